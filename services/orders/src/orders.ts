import { type Handlers, isMeshError, MeshError } from "@switchyard/runtime";
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

/** Where orders live: Redis when the service has one (every instance sees every order), else memory. */
export interface OrderStore {
  put(order: Order): Promise<void>;
  get(orderId: string): Promise<Order | undefined>;
}

export function memoryOrderStore(): OrderStore {
  const orders = new Map<string, Order>();
  return {
    put: async (order) => void orders.set(order.orderId, order),
    get: async (orderId) => orders.get(orderId),
  };
}

const ORDER_TTL_S = 24 * 3_600;

export function redisOrderStore(redis: Redis): OrderStore {
  return {
    put: async (order) =>
      void (await redis.set(`orders:${order.orderId}`, JSON.stringify(order), "EX", ORDER_TTL_S)),
    get: async (orderId) => {
      const text = await redis.get(`orders:${orderId}`);
      return text === null ? undefined : (JSON.parse(text) as Order);
    },
  };
}

/**
 * Creating an order is a small saga: reserve the stock, charge the customer, and give the stock
 * back when the charge fails.
 */
export function ordersHandlers(store: OrderStore): Handlers<typeof ordersContract> {
  let next = 1;
  return {
    create: async ({ customerId, lines }, ctx) => {
      const orderId = `ord-${process.pid}-${next++}`;
      const totalCents = lines.reduce((sum, l) => sum + (PRICES_CENTS[l.sku] ?? 0) * l.quantity, 0);
      // ctx.client carries this request's tenant, remaining deadline and trace to each callee
      const inventory = ctx.client(inventoryContract);
      const { reservationId } = await inventory.reserve({ orderId, lines });
      let paymentId: string;
      try {
        // the same key on every attempt: a retried charge is replayed by payments, never repeated
        ({ paymentId } = await ctx
          .client(paymentsContract)
          .charge({ orderId, customerId, amountCents: totalCents }, { idempotencyKey: `charge-${orderId}` }));
      } catch (error) {
        // compensate: the stock goes back whatever the reason the charge failed
        await inventory.release({ reservationId }).catch((releaseError: unknown) => {
          ctx.log.error(
            { err: releaseError, orderId, reservationId },
            "could not release after a failed charge",
          );
        });
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
      await store.put(order);
      ctx.log.info({ orderId, reservationId, paymentId, totalCents }, "order created");
      return order;
    },
    get: async ({ orderId }) => {
      const order = await store.get(orderId);
      if (order === undefined)
        throw new MeshError("NOT_FOUND", `no order ${orderId}`, { details: { orderId } });
      return order;
    },
  };
}
