// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/ab-server.ts CHECKOUT_A CHECKOUT_B`:
// `server-loop.ts` for two checkouts in ONE process: each checkout's runtime (imported from its own
// `mesh-runtime/src`) serves the bench's echo contract, and both subscription callbacks are fed the
// same requests in alternate rounds (ROUNDS each, default 10), so both meet the same machine load.
// Prints, per checkout, the server pipeline's CPU per request: the median and least of the rounds.
// HANDLERS=async,signal names each checkout's handler in turn: `plain` (the default) echoes, `async`
// echoes from an async function, `signal` does that and reads `ctx.signal` (as a handler passing
// it on does); the same checkout twice with `async,signal` tells what the signal costs.
import { resolve } from "node:path";
import type { NatsConnection, SubscriptionOptions } from "@nats-io/nats-core";
import { NatsConnectionImpl } from "@nats-io/nats-core/internal";
import { pino } from "pino";
import { echoContract } from "../echo-contract.js";
import { startPrivate } from "../nats-server.js";
import { loopRequests, type ServeCallback } from "./loop-requests.js";

interface Runtime {
  connectMesh(options: unknown): Promise<{
    serve(contract: unknown, handlers: unknown): Promise<unknown>;
    close(): Promise<void>;
  }>;
}

const checkouts = process.argv.slice(2);
if (checkouts.length < 2) throw new Error("usage: ab-server.ts CHECKOUT_A CHECKOUT_B...");
const ROUNDS = Number(process.env["ROUNDS"] ?? 10);
const REQUESTS = Number(process.env["REQUESTS"] ?? 50_000);
const handlers = (process.env["HANDLERS"] ?? "").split(",");
const echoes: Record<string, unknown> = {
  async: async (order: unknown) => order,
  signal: async (order: unknown, ctx: { signal: AbortSignal }) => (ctx.signal.aborted ? undefined : order),
};
const plainEcho = (order: unknown) => order;

// the service's subscription callback, caught as serve() subscribes
let caught: ServeCallback | undefined;
const subscribe = NatsConnectionImpl.prototype.subscribe;
NatsConnectionImpl.prototype.subscribe = function (
  this: NatsConnection,
  subject: string,
  opts?: SubscriptionOptions,
) {
  if (subject === "mesh.svc.bench.>" && opts?.callback !== undefined) caught = opts.callback as ServeCallback;
  return subscribe.call(this, subject, opts);
};

const nats = await startPrivate();
const logger = pino({ level: "info" }, pino.destination(2));
const meshes: { close(): Promise<void> }[] = [];
const serves: ServeCallback[] = [];
for (const [i, checkout] of checkouts.entries()) {
  const echo = echoes[handlers[i] ?? ""] ?? plainEcho;
  const runtime = (await import(resolve(checkout, "mesh-runtime/src/index.ts"))) as Runtime;
  const mesh = await runtime.connectMesh({ name: "bench", servers: nats.url, logger });
  caught = undefined;
  await mesh.serve(echoContract, { echo });
  if (caught === undefined) throw new Error(`${checkout}: no service subscription caught`);
  meshes.push(mesh);
  serves.push(caught);
}

const loop = loopRequests();

for (const serve of serves) await loop.round(serve, REQUESTS);
const perRequest = checkouts.map((): number[] => []);
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, serve] of serves.entries()) perRequest[i]?.push(await loop.round(serve, REQUESTS));
}
for (const mesh of meshes) await mesh.close();
await nats.stop();
if (loop.replies < REQUESTS * (ROUNDS + 1) * serves.length) throw new Error(`only ${loop.replies} replies`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const r2 = (x: number) => Math.round(x * 100) / 100;
for (const [i, checkout] of checkouts.entries()) {
  const us = perRequest[i] ?? [];
  process.stdout.write(
    `${JSON.stringify({ checkout, medianUs: r2(median(us)), leastUs: r2(Math.min(...us)), rounds: us.map(r2) })}\n`,
  );
}
