// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/threads.ts`: CPU per call of the
// caller (this process), the responder and nats-server at 64 in flight, mesh then floor b, split into each
// process's main thread and its other threads (GC helpers, compiler, libuv), user and system time.
import { readdirSync, readFileSync } from "node:fs";
import { runConcurrent } from "../measure.js";
import { startPrivate } from "../nats-server.js";
import { startResponder } from "../responder-process.js";
import { meshAndFloor } from "./mesh-and-floor.js";

function threads(pid: number): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const name = tid === String(pid) ? "main" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const prev = out.get(name) ?? [0, 0];
    out.set(name, [prev[0] + Number(f[11]) * 10_000, prev[1] + Number(f[12]) * 10_000]);
  }
  return out;
}
const nats = await startPrivate();
const responder = await startResponder(nats.url);
const callers = await meshAndFloor(nats.url);
const { calls } = callers;
for (const c of Object.values(calls)) await runConcurrent(c, 64, 1_500);
for (const [name, call] of Object.entries(calls)) {
  const pids = { caller: process.pid, callee: responder.pid as number, nats: nats.pid as number };
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, threads(p)]));
  const r = await runConcurrent(call, 64, 3_000);
  console.log(`${name}@64 ${Math.round((r.calls * 1000) / r.elapsedMs)}/s`);
  for (const [k, p] of Object.entries(pids)) {
    const after = threads(p);
    const parts: string[] = [];
    for (const [t, [u, s]] of after) {
      const [u0, s0] = before[k]?.get(t) ?? [0, 0];
      const du = (u - u0) / r.calls;
      const ds = (s - s0) / r.calls;
      if (du + ds >= 0.05) parts.push(`${t}=${du.toFixed(1)}u+${ds.toFixed(1)}s`);
    }
    console.log(`  ${k}: ${parts.join(" ")}`);
  }
}
await callers.close();
await responder.stop();
await nats.stop();
