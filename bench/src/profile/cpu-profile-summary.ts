// `node --import tsx bench/src/profile/cpu-profile-summary.ts FILE.cpuprofile WINDOW.json [top]`
// The top self-time frames of a V8 CPU profile (`node --cpu-prof`) within the measured window
// that `hot-path.ts` printed ({fromUs, toUs, calls}), as a share of the busy samples and in µs
// per call. Idle time is left out; GC and native frames are shown as V8 names them.
import { readFileSync } from "node:fs";
import { relative } from "node:path";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [file, windowFile, topText = "25"] = process.argv.slice(2);
if (file === undefined || windowFile === undefined) {
  throw new Error("usage: cpu-profile-summary.ts FILE.cpuprofile WINDOW.json [top]");
}
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const window = JSON.parse(readFileSync(windowFile, "utf8")) as {
  fromUs: number;
  toUs: number;
  calls: number;
};
const frameOf = new Map<number, string>();
for (const { id, callFrame: f } of profile.nodes) {
  const where =
    f.url === "" ? "" : ` ${relative(process.cwd(), f.url.replace(/^file:\/\//, ""))}:${f.lineNumber + 1}`;
  frameOf.set(id, `${f.functionName || "(anonymous)"}${where}`);
}
const selfUs = new Map<string, number>();
let totalUs = 0;
let idleUs = 0;
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i] ?? 0;
  at += us;
  if (at < window.fromUs || at > window.toUs) return;
  const frame = frameOf.get(id) ?? "?";
  if (frame === "(idle)") idleUs += us;
  else {
    totalUs += us;
    selfUs.set(frame, (selfUs.get(frame) ?? 0) + us);
  }
});
const perCall = (us: number) => `${(us / window.calls).toFixed(2).padStart(6)} µs/call  `;
process.stdout.write(
  `busy ${(totalUs / 1e6).toFixed(2)} s, idle ${(idleUs / 1e6).toFixed(2)} s; ${perCall(totalUs)}\n`,
);
/** Which part of the process a frame belongs to, for the summary by part. */
function partOf(frame: string): string {
  if (frame.includes("mesh-runtime/src/")) return "runtime (mesh-runtime/src)";
  if (frame.includes("node_modules/zod/")) return "zod";
  if (frame.includes("node_modules/@nats-io/")) return "nats.js";
  if (frame.includes("bench/src/")) return "bench loop";
  if (frame.startsWith("(garbage collector)")) return "GC";
  // the socket write: on loopback the kernel delivers to nats-server within the call
  if (frame.startsWith("writeBuffer") || frame.startsWith("writev")) return "socket writes";
  return "node and V8 (buffers, encoders, microtasks, timers)";
}
const parts = new Map<string, number>();
for (const [frame, us] of selfUs) parts.set(partOf(frame), (parts.get(partOf(frame)) ?? 0) + us);
for (const [part, us] of [...parts].sort((a, b) => b[1] - a[1])) {
  process.stdout.write(`${((100 * us) / totalUs).toFixed(1).padStart(5)} %  ${perCall(us)}[${part}]\n`);
}
for (const [frame, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, Number(topText))) {
  process.stdout.write(`${((100 * us) / totalUs).toFixed(1).padStart(5)} %  ${perCall(us)}${frame}\n`);
}
