import { defineContract } from "@switchyard/runtime";
import { z } from "zod";

const Order = z.object({
  orderId: z.string(),
  customerId: z.string(),
  lines: z.array(z.object({ sku: z.string(), quantity: z.number().int() })),
  reservationId: z.string(),
  paymentId: z.string(),
  totalCents: z.number().int(),
  status: z.enum(["confirmed"]),
});

/** The orders service. */
export const ordersContract = defineContract({
  name: "orders",
  version: "1.0.0",
  description:
    "Creates orders: reserves the stock, charges the customer, releases the stock when the charge fails",
  endpoints: {
    create: {
      input: z.strictObject({
        customerId: z.string().min(1).max(64),
        lines: z
          .array(z.strictObject({ sku: z.string().max(32), quantity: z.number().int().min(1).max(1_000) }))
          .min(1)
          .max(50),
      }),
      output: Order,
      timeoutMs: 3_000,
    },
    get: {
      input: z.strictObject({ orderId: z.string().min(1) }),
      output: Order,
      idempotent: true,
    },
  },
});
