// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/stack-round.ts NATS_URL`:
// both sides of the mesh call from this checkout (its caller here, its responder process spawned),
// against floor b in the same processes: calls/s and the CPU per call of caller AND responder at
// IN_FLIGHT calls in flight (default 64), and the p50 of sequential calls, rounds interleaved (ROUNDS, default 3): the
// median of the rounds, the least for CPU per call.
// Run from two checkouts in turn (`ab-stack.ts`) to compare commits on a noisy machine.
import { readFileSync } from "node:fs";
import { runConcurrent, runSequential } from "../measure.js";
import { startResponder } from "../responder-process.js";
import { meshAndFloor } from "./mesh-and-floor.js";

const url = process.argv[2];
if (url === undefined) throw new Error("usage: stack-round.ts NATS_URL");
const ROUND_MS = Number(process.env["ROUND_MS"] ?? 1_500);
const ROUNDS = Number(process.env["ROUNDS"] ?? 3);
const IN_FLIGHT = Number(process.env["IN_FLIGHT"] ?? 64);

/** User + system CPU of a process in µs, from /proc (clock ticks of 10 ms). */
function cpuOfUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const responder = await startResponder(url);
const responderPid = responder.pid as number;
const callers = await meshAndFloor(url);
const { calls } = callers;
for (const call of Object.values(calls)) await runConcurrent(call, IN_FLIGHT, 1_000);
const figures: Record<string, number[]> = {};
const keep = (key: string, value: number) => {
  figures[key] ??= [];
  figures[key].push(value);
};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, call] of Object.entries(calls)) {
    const before = cpuOfUs(responderPid);
    const r = await runConcurrent(call, IN_FLIGHT, ROUND_MS);
    keep(`${name}@${IN_FLIGHT}.calls-per-s`, (r.calls * 1000) / r.elapsedMs);
    keep(`${name}@${IN_FLIGHT}.caller-cpu-us`, r.cpuUs / r.calls);
    keep(`${name}@${IN_FLIGHT}.callee-cpu-us`, (cpuOfUs(responderPid) - before) / r.calls);
  }
  for (const [name, call] of Object.entries(calls)) {
    const before = cpuOfUs(responderPid);
    const r = await runSequential(call, ROUND_MS / 2);
    const sorted = Float64Array.from(r.latenciesUs).sort();
    keep(`${name}@1.p50-us`, sorted[Math.floor(sorted.length / 2)] as number);
    keep(`${name}@1.caller-cpu-us`, r.cpuUs / r.calls);
    keep(`${name}@1.callee-cpu-us`, (cpuOfUs(responderPid) - before) / r.calls);
  }
}
await callers.close();
await responder.stop();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const out: Record<string, number> = {};
// CPU per call: the least of the rounds (load on a shared machine only ever adds to it); rates
// and latencies: the median
for (const [key, values] of Object.entries(figures)) {
  out[key] = Math.round((key.endsWith("-cpu-us") ? Math.min(...values) : median(values)) * 10) / 10;
}
const ratio = (a: string, b: string) => Math.round(((out[a] as number) / (out[b] as number)) * 1000) / 1000;
out[`mesh/floor-b@${IN_FLIGHT}`] = ratio(`mesh@${IN_FLIGHT}.calls-per-s`, `floor-b@${IN_FLIGHT}.calls-per-s`);
out["p50-delta-us"] =
  Math.round(((out["mesh@1.p50-us"] as number) - (out["floor-b@1.p50-us"] as number)) * 10) / 10;
process.stdout.write(`${JSON.stringify(out)}\n`);
