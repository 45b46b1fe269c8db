import { randomUUID } from "node:crypto";
import { type Handlers, MeshError } from "@switchyard/runtime";
import type { inventoryContract } from "./contract.js";

interface Reservation {
  readonly id: string;
  readonly lines: ReadonlyArray<{ sku: string; quantity: number }>;
}

export interface InventoryOptions {
  /** Starting stock per SKU. */
  readonly stock: Readonly<Record<string, number>>;
  /** Added latency per reservation, to make drains and deadlines visible in the demo. */
  readonly latencyMs?: number;
  /**
   * A delivery every this many ms brings each SKU back up to its starting stock (never down), so
   * `npm start -- --load` can order indefinitely; none when unset.
   */
  readonly restockEveryMs?: number;
}

/**
 * Stock held in memory by one instance (the example keeps no database; two instances each have
 * their own stock, which is fine for a demo and documented in the README).
 */
export function inventoryHandlers(options: InventoryOptions): Handlers<typeof inventoryContract> {
  const stock = new Map(Object.entries(options.stock));
  const byOrder = new Map<string, Reservation>();
  const byId = new Map<string, Reservation>();
  let restockedAt = performance.now();
  // checked on each reservation rather than on a timer: nothing to stop when the service drains
  const restock = () => {
    if (options.restockEveryMs === undefined || performance.now() - restockedAt < options.restockEveryMs)
      return;
    restockedAt = performance.now();
    for (const [sku, start] of Object.entries(options.stock)) {
      stock.set(sku, Math.max(stock.get(sku) ?? 0, start));
    }
  };

  return {
    reserve: async ({ orderId, lines }, ctx) => {
      const existing = byOrder.get(orderId);
      if (existing) return { reservationId: existing.id };
      if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));
      restock();
      for (const { sku, quantity } of lines) {
        const available = stock.get(sku);
        if (available === undefined)
          throw new MeshError("NOT_FOUND", `unknown SKU ${sku}`, { details: { sku } });
        if (available < quantity) {
          throw new MeshError("CONFLICT", `only ${available} of ${sku} left`, {
            details: { sku, available, requested: quantity },
          });
        }
      }
      for (const { sku, quantity } of lines) stock.set(sku, (stock.get(sku) ?? 0) - quantity);
      const reservation = { id: `res-${randomUUID()}`, lines };
      byOrder.set(orderId, reservation);
      byId.set(reservation.id, reservation);
      ctx.log.info({ orderId, reservationId: reservation.id }, "reserved");
      return { reservationId: reservation.id };
    },
    release: ({ reservationId }) => {
      const reservation = byId.get(reservationId);
      if (reservation === undefined) return { released: false };
      for (const { sku, quantity } of reservation.lines) stock.set(sku, (stock.get(sku) ?? 0) + quantity);
      byId.delete(reservationId);
      return { released: true };
    },
    stock: ({ sku }) => {
      const available = stock.get(sku);
      if (available === undefined)
        throw new MeshError("NOT_FOUND", `unknown SKU ${sku}`, { details: { sku } });
      return { sku, available };
    },
  };
}
