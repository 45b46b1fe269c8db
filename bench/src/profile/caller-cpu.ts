// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/caller-cpu.ts NATS_URL`: the requester's CPU per call of
// the mesh and of floor b at 64 in flight, rounds interleaved, the least of 3 rounds each (load on
// a shared machine only ever adds), against a responder already serving on NATS_URL. Run from two
// checkouts in turn (`ab.ts`) to compare commits side by side on a noisy machine.
import { runConcurrent } from "../measure.js";
import { meshAndFloor } from "./mesh-and-floor.js";

const url = process.argv[2];
if (url === undefined) throw new Error("usage: caller-cpu.ts NATS_URL");
const callers = await meshAndFloor(url);
const { calls } = callers;
for (const call of Object.values(calls)) await runConcurrent(call, 64, 1_000);
const cpu: Record<string, number[]> = { mesh: [], "floor-b": [] };
for (let round = 0; round < 3; round++) {
  for (const [name, call] of Object.entries(calls)) {
    const r = await runConcurrent(call, 64, 1_500);
    cpu[name]?.push(r.cpuUs / r.calls);
  }
}
await callers.close();
const least = (name: string) => Math.round(Math.min(...(cpu[name] ?? [])) * 10) / 10;
process.stdout.write(`${JSON.stringify({ meshCpuUs: least("mesh"), floorBCpuUs: least("floor-b") })}\n`);
