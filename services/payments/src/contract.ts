import { defineContract } from "@switchyard/runtime";
import { z } from "zod";

const Payment = z.object({
  paymentId: z.string(),
  orderId: z.string(),
  amountCents: z.number().int(),
  status: z.enum(["captured", "refunded"]),
});

/** The payments service. */
export const paymentsContract = defineContract({
  name: "payments",
  version: "1.0.0",
  description: "Charges and refunds for orders",
  endpoints: {
    charge: {
      description: "Charge an order once: repeats of the same call (Idempotency-Key) get the first answer",
      input: z.strictObject({
        orderId: z.string().min(1).max(64),
        customerId: z.string().min(1).max(64),
        amountCents: z.number().int().min(1).max(100_000_000),
      }),
      output: Payment,
      // a retry after a timeout must not charge twice: the callee replays the first answer
      dedupe: true,
    },
    refund: {
      input: z.strictObject({ paymentId: z.string().min(1) }),
      output: Payment,
      idempotent: true,
    },
  },
});
