import { randomUUID } from "node:crypto";
import { type Handlers, MeshError } from "@switchyard/runtime";
import type { z } from "zod";
import type { paymentsContract } from "./contract.js";

/** The customer whose card is always declined (the demo's way to show compensation). */
export const DECLINED_CUSTOMER = "c-broke";

type Payment = z.output<(typeof paymentsContract)["endpoints"]["charge"]["output"]>;

/** How the pretend card processor behaves, so resilience can be seen in the demo. */
export interface PaymentsProfile {
  /** Added latency per charge, ms. */
  readonly latencyMs: number;
  /**
   * Share of charges the processor declines at random (FAILED_PRECONDITION: the order is
   * compensated). The card of customer `c-broke` is always declined, so a decline can be shown.
   */
  readonly declineRate: number;
  /** Share of charges that fail transiently (UNAVAILABLE before any work: retried elsewhere). */
  readonly faultRate: number;
}

/** Payments kept in memory by one instance (the example has no database). */
export function paymentsHandlers(
  profile: PaymentsProfile,
  random = Math.random,
): Handlers<typeof paymentsContract> {
  const payments = new Map<string, Payment>();
  return {
    charge: async ({ orderId, customerId, amountCents }, ctx) => {
      if (random() < profile.faultRate) throw new MeshError("UNAVAILABLE", "the card processor timed out");
      if (profile.latencyMs > 0) await new Promise((r) => setTimeout(r, profile.latencyMs));
      if (customerId === DECLINED_CUSTOMER || random() < profile.declineRate) {
        throw new MeshError("FAILED_PRECONDITION", `card of ${customerId} declined`, {
          details: { orderId, reason: "declined" },
        });
      }
      const payment: Payment = {
        paymentId: `pay-${randomUUID()}`,
        orderId,
        amountCents,
        status: "captured",
      };
      payments.set(payment.paymentId, payment);
      ctx.log.info({ orderId, paymentId: payment.paymentId, amountCents }, "charged");
      return payment;
    },
    refund: ({ paymentId }) => {
      const payment = payments.get(paymentId);
      if (payment === undefined)
        throw new MeshError("NOT_FOUND", `no payment ${paymentId}`, { details: { paymentId } });
      const refunded: Payment = { ...payment, status: "refunded" };
      payments.set(paymentId, refunded);
      return refunded;
    },
  };
}

/** The profile from PAYMENTS_LATENCY_MS, PAYMENTS_DECLINE_RATE and PAYMENTS_FAULT_RATE. */
export function profileFromEnv(env: NodeJS.ProcessEnv): PaymentsProfile {
  const num = (name: string, text: string | undefined, fallback: number, max: number) => {
    const n = text === undefined || text === "" ? fallback : Number(text);
    if (!Number.isFinite(n) || n < 0 || n > max)
      throw new Error(`${name} must be a number from 0 to ${max}, not ${text}`);
    return n;
  };
  return {
    latencyMs: num("PAYMENTS_LATENCY_MS", env["PAYMENTS_LATENCY_MS"], 20, 60_000),
    declineRate: num("PAYMENTS_DECLINE_RATE", env["PAYMENTS_DECLINE_RATE"], 0, 1),
    faultRate: num("PAYMENTS_FAULT_RATE", env["PAYMENTS_FAULT_RATE"], 0, 1),
  };
}
