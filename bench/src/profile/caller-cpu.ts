// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/caller-cpu.ts NATS_URL`: the requester's CPU per call of
// the mesh and of floor b at 64 in flight, rounds interleaved, the least of 3 rounds each (load on
// a shared machine only ever adds), against a responder already serving on NATS_URL. Run from two
// checkouts in turn (`ab.ts`) to compare commits side by side on a noisy machine.
import { connect } from "@nats-io/transport-node";
import { connectMesh } from "@switchyard/runtime";
import { pino } from "pino";
import { echoContract, ORDER, ORDER_BYTES, RAW_ECHO_SUBJECT } from "../echo-contract.js";
import { BareInboxFloor } from "../floors.js";
import { type Call, runConcurrent } from "../measure.js";

const url = process.argv[2];
if (url === undefined) throw new Error("usage: caller-cpu.ts NATS_URL");
const logger = pino({ level: "info" }, pino.destination(2));
const mesh = await connectMesh({ name: "bench-caller", servers: url, logger });
const echo = mesh.client(echoContract);
const nc = await connect({ servers: url });
const floor = new BareInboxFloor(nc);
const calls: Record<"mesh" | "floor-b", Call> = {
  mesh: () => echo.echo(ORDER),
  "floor-b": () => floor.request(RAW_ECHO_SUBJECT, ORDER_BYTES),
};
for (const call of Object.values(calls)) await runConcurrent(call, 64, 1_000);
const cpu: Record<string, number[]> = { mesh: [], "floor-b": [] };
for (let round = 0; round < 3; round++) {
  for (const [name, call] of Object.entries(calls)) {
    const r = await runConcurrent(call, 64, 1_500);
    cpu[name]?.push(r.cpuUs / r.calls);
  }
}
await mesh.close();
await nc.drain();
const least = (name: string) => Math.round(Math.min(...(cpu[name] ?? [])) * 10) / 10;
process.stdout.write(`${JSON.stringify({ meshCpuUs: least("mesh"), floorBCpuUs: least("floor-b") })}\n`);
