import { type Handlers, MeshError } from "@switchyard/runtime";
import { inventoryContract } from "@switchyard/service-inventory";
import type { z } from "zod";
import type { ordersContract } from "./contract.js";

type Order = z.output<(typeof ordersContract)["endpoints"]["get"]["output"]>;

/** Orders kept in memory by one instance (the example has no database). */
export function ordersHandlers(): Handlers<typeof ordersContract> {
  const orders = new Map<string, Order>();
  let next = 1;
  return {
    create: async ({ customerId, lines }, ctx) => {
      const orderId = `ord-${process.pid}-${next++}`;
      // ctx.client carries this request's tenant and remaining deadline to inventory
      const { reservationId } = await ctx.client(inventoryContract).reserve({ orderId, lines });
      const order: Order = { orderId, customerId, lines, reservationId, status: "reserved" };
      orders.set(orderId, order);
      ctx.log.info({ orderId, reservationId }, "order created");
      return order;
    },
    get: ({ orderId }) => {
      const order = orders.get(orderId);
      if (order === undefined)
        throw new MeshError("NOT_FOUND", `no order ${orderId}`, { details: { orderId } });
      return order;
    },
  };
}
