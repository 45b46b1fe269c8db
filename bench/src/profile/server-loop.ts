// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/server-loop.ts [requests]`:
// the CPU the server pipeline spends per request, without the network: the bench's echo contract
// served with default options, its subscription's callback fed requests built as nats.js builds
// received ones (a MsgImpl over the header block a mesh caller sends and the 100-byte order) in
// batches of 64, replies going to a publisher that drops them. Prints µs per request (the least
// of 5 rounds: this one thread's CPU, so a loaded machine slows it but hardly changes it).
import type { NatsConnection, SubscriptionOptions } from "@nats-io/nats-core";
import { NatsConnectionImpl } from "@nats-io/nats-core/internal";
import { connectMesh } from "@switchyard/runtime";
import { pino } from "pino";
import { echoContract } from "../echo-contract.js";
import { startPrivate } from "../nats-server.js";
import { loopRequests, type ServeCallback } from "./loop-requests.js";

const requests = Number(process.argv[2] ?? 100_000);

// the service's subscription callbacks, caught as serve() subscribes
const callbacks = new Map<string, ServeCallback>();
const subscribe = NatsConnectionImpl.prototype.subscribe;
NatsConnectionImpl.prototype.subscribe = function (
  this: NatsConnection,
  subject: string,
  opts?: SubscriptionOptions,
) {
  if (opts?.callback !== undefined) callbacks.set(subject, opts.callback as ServeCallback);
  return subscribe.call(this, subject, opts);
};

const nats = await startPrivate();
const mesh = await connectMesh({
  name: "bench",
  servers: nats.url,
  logger: pino({ level: "info" }, pino.destination(2)),
});
await mesh.serve(echoContract, { echo: (order) => order });
const found = callbacks.get("mesh.svc.bench.>");
if (found === undefined) throw new Error(`no service subscription among ${[...callbacks.keys()].join(", ")}`);
const serve = found;

const loop = loopRequests();

await loop.round(serve, requests / 2);
const perRequest: number[] = [];
for (let i = 0; i < 5; i++) perRequest.push(await loop.round(serve, requests));
await mesh.close();
await nats.stop();
if (loop.replies < requests * 5) throw new Error(`only ${loop.replies} replies`);
const rounded = perRequest.map((us) => Math.round(us * 100) / 100);
process.stdout.write(`${JSON.stringify({ usPerRequest: Math.min(...rounded), rounds: rounded })}\n`);
