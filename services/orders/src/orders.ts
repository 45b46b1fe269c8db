import { randomUUID } from "node:crypto";
import { type HandlerContext, type Handlers, isMeshError, MeshError } from "@switchyard/runtime";
import { inventoryContract } from "@switchyard/service-inventory";
import { paymentsContract } from "@switchyard/service-payments";
import type { Redis } from "ioredis";
import type { z } from "zod";
import type { ordersContract } from "./contract.js";

type Order = z.output<(typeof ordersContract)["endpoints"]["get"]["output"]>;

/** Unit prices in cents (the example's catalogue; inventory knows the stock, orders the prices). */
export const PRICES_CENTS: Readonly<Record<string, number>> = {
  "WIDGET-1": 1_999,
  "GADGET-2": 4_999,
  "GIZMO-3": 12_999,
};

/**
 * An order and the tenant it belongs to (only that tenant may read it): the tenant the request was
 * served for, which a tenant token vouches for when the policy names tenant issuers.
 */
interface Stored {
  readonly order: Order;
  readonly tenant: string | undefined;
}

/** Where orders live: Redis when the service has one (every instance sees every order), else memory. */
export interface OrderStore {
  put(stored: Stored): Promise<void>;
  get(orderId: string): Promise<Stored | undefined>;
}

export function memoryOrderStore(): OrderStore {
  const orders = new Map<string, Stored>();
  return {
    put: async (stored) => void orders.set(stored.order.orderId, stored),
    get: async (orderId) => orders.get(orderId),
  };
}

const ORDER_TTL_S = 24 * 3_600;

export function redisOrderStore(redis: Redis): OrderStore {
  return {
    put: async (stored) =>
      void (await redis.set(`orders:${stored.order.orderId}`, JSON.stringify(stored), "EX", ORDER_TTL_S)),
    get: async (orderId) => {
      const text = await redis.get(`orders:${orderId}`);
      return text === null ? undefined : (JSON.parse(text) as Stored);
    },
  };
}

/**
 * Gives a reservation back for the request in `ctx` (its tenant and tenant token), with a budget of
 * its own: that request may be out of time or cancelled, and the stock must come back anyway.
 * Resolves with whether inventory found it.
 */
export type Release = (reservationId: string, ctx: HandlerContext) => Promise<boolean>;

/** The release the orders process uses: a detached call, so it outlives the failed request. */
export const releaseDetached: Release = async (reservationId, ctx) => {
  const { released } = await ctx
    .client(inventoryContract)
    .release({ reservationId }, { detached: true, timeoutMs: 2_000 });
  return released;
};

/**
 * Creating an order is a small saga: reserve the stock, charge the customer, and give the stock
 * back when the charge fails.
 */
export function ordersHandlers(store: OrderStore, release: Release): Handlers<typeof ordersContract> {
  return {
    create: async ({ customerId, lines }, ctx) => {
      // unique across instances and restarts: the id also keys the charge's idempotency
      const orderId = `ord-${randomUUID()}`;
      const totalCents = lines.reduce((sum, l) => sum + (PRICES_CENTS[l.sku] ?? 0) * l.quantity, 0);
      // ctx.client carries this request's tenant, remaining deadline and trace to each callee
      const { reservationId } = await ctx.client(inventoryContract).reserve({ orderId, lines });
      let paymentId: string;
      try {
        // the same key on every attempt: a retried charge is replayed by payments, never repeated
        ({ paymentId } = await ctx
          .client(paymentsContract)
          .charge({ orderId, customerId, amountCents: totalCents }, { idempotencyKey: `charge-${orderId}` }));
      } catch (error) {
        // compensate: the stock goes back whatever the reason the charge failed. A charge that
        // timed out may still have been captured: the demo does not refund it (README)
        const released = await release(reservationId, ctx).catch((releaseError: unknown) => {
          ctx.log.error(
            { err: releaseError, orderId, reservationId },
            "could not release after a failed charge",
          );
          return true;
        });
        if (!released) {
          // stock lives in each inventory instance's memory: another instance got the release
          ctx.log.warn(
            { orderId, reservationId },
            "the release found no reservation: the stock stays reserved",
          );
        }
        ctx.log.warn(
          { orderId, reservationId, code: isMeshError(error) ? error.code : undefined },
          "charge failed: reservation released",
        );
        throw error;
      }
      const order: Order = {
        orderId,
        customerId,
        lines,
        reservationId,
        paymentId,
        totalCents,
        status: "confirmed",
      };
      await store.put({ order, tenant: ctx.tenant });
      ctx.log.info({ orderId, reservationId, paymentId, totalCents }, "order created");
      return order;
    },
    get: async ({ orderId }, ctx) => {
      const stored = await store.get(orderId);
      // another tenant's order does not exist, as far as this tenant can tell
      if (stored === undefined || stored.tenant !== ctx.tenant) {
        throw new MeshError("NOT_FOUND", `no order ${orderId}`, { details: { orderId } });
      }
      return stored.order;
    },
  };
}
