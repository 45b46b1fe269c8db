import { defineContract } from "@switchyard/runtime";
import { z } from "zod";

const Sku = z.string().regex(/^[A-Z0-9-]{1,32}$/);
const Line = z.strictObject({ sku: Sku, quantity: z.number().int().min(1).max(1_000) });

/** The inventory service: what its callers may ask of it. */
export const inventoryContract = defineContract({
  name: "inventory",
  version: "1.0.0",
  description: "Stock levels and reservations",
  endpoints: {
    reserve: {
      description: "Reserve stock for an order; repeating it for the same order returns the same reservation",
      input: z.strictObject({ orderId: z.string().min(1).max(64), lines: z.array(Line).min(1).max(50) }),
      output: z.object({ reservationId: z.string() }),
      idempotent: true,
      timeoutMs: 2_000,
    },
    release: {
      description: "Give a reservation's stock back",
      input: z.strictObject({ reservationId: z.string().min(1) }),
      output: z.object({ released: z.boolean() }),
      idempotent: true,
    },
    stock: {
      input: z.strictObject({ sku: Sku }),
      output: z.object({ sku: Sku, available: z.number().int() }),
      idempotent: true,
    },
  },
});
