import { defineContract } from "@switchyard/runtime";
import { z } from "zod";

// What both sides of the request-reply suite share: the contract, the floors' subject, the payload.

const Order = z.strictObject({
  orderId: z.string().max(64),
  sku: z.string().max(64),
  quantity: z.number().int().positive(),
  priceCents: z.number().int().nonnegative(),
  note: z.string().max(200),
});

/** The mesh side: one endpoint that validates an order and sends it back. */
export const echoContract = defineContract({
  name: "bench",
  version: "1.0.0",
  endpoints: {
    echo: { input: Order, output: Order },
  },
});

/** The same endpoint served with the breaker and the concurrency limiter off: the "core" call. */
export const coreContract = defineContract({
  name: "bench-core",
  version: "1.0.0",
  endpoints: {
    echo: { input: Order, output: Order },
  },
});

/** The same endpoint served by a mesh that records spans (the tracing suite). */
export const tracedContract = defineContract({
  name: "bench-traced",
  version: "1.0.0",
  endpoints: {
    echo: { input: Order, output: Order },
  },
});

/** Mesh options that turn flow control off, on both sides of the core call. */
export const WITHOUT_FLOW_CONTROL = {
  calls: { breaker: { enabled: false }, concurrency: { enabled: false } },
} as const;

/** The raw responder for the floors: `msg.respond(msg.data)`, nothing else. */
export const RAW_ECHO_SUBJECT = "bench.raw.echo";

export const PAYLOAD_BYTES = 100;

function payload(): z.output<typeof Order> {
  const order = { orderId: "ord-000123", sku: "sku-4711", quantity: 3, priceCents: 1999, note: "" };
  // pad the free-text field so the encoded body is exactly PAYLOAD_BYTES
  order.note = "x".repeat(PAYLOAD_BYTES - JSON.stringify(order).length);
  return order;
}

/** The input of every mesh call. */
export const ORDER = Object.freeze(payload());

/** The same order as bytes: what the floors send. */
export const ORDER_BYTES = new TextEncoder().encode(JSON.stringify(ORDER));

if (ORDER_BYTES.length !== PAYLOAD_BYTES) {
  throw new Error(`bench payload is ${ORDER_BYTES.length} bytes, expected ${PAYLOAD_BYTES}`);
}
