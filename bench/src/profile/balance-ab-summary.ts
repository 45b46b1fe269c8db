// `node --import tsx bench/src/profile/balance-ab-summary.ts FILE.cpuprofile ROUNDS.json [top]`: the
// self time of each frame in µs per call for each arm of `balance-ab.ts` (the samples inside that
// arm's rounds over its calls), and p2c-ewma's extra over the queue group's, largest first.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import type { ArmRound } from "./balance-ab.js";

interface Profile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  }[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [file, roundsFile, topText = "25"] = process.argv.slice(2);
if (file === undefined || roundsFile === undefined) {
  throw new Error("usage: balance-ab-summary.ts FILE.cpuprofile ROUNDS.json [top]");
}
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const rounds = JSON.parse(readFileSync(roundsFile, "utf8")) as Record<string, ArmRound[]>;
const frameOf = new Map<number, string>();
for (const { id, callFrame: f } of profile.nodes) {
  const where =
    f.url === "" ? "" : ` ${relative(process.cwd(), f.url.replace(/^file:\/\//, ""))}:${f.lineNumber + 1}`;
  frameOf.set(id, `${f.functionName || "(anonymous)"}${where}`);
}

/** Per arm: µs of self time per frame per call, idle left out. */
const perCall = new Map<string, Map<string, number>>();
for (const [arm, list] of Object.entries(rounds)) {
  const calls = list.reduce((n, r) => n + r.calls, 0);
  const cpuUs = list.reduce((n, r) => n + r.cpuUs, 0);
  const systemUs = list.reduce((n, r) => n + r.systemUs, 0);
  const frames = new Map<string, number>();
  let at = profile.startTime;
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    if (!list.some((r) => at >= r.fromUs && at <= r.toUs)) return;
    const frame = frameOf.get(id) ?? "?";
    if (frame === "(idle)") return;
    busyUs += us;
    frames.set(frame, (frames.get(frame) ?? 0) + us / calls);
  });
  perCall.set(arm, frames);
  process.stdout.write(
    `${arm}: ${calls} calls, CPU ${(cpuUs / calls).toFixed(2)} µs/call (system ${(systemUs / calls).toFixed(2)}), sampled busy ${(busyUs / calls).toFixed(2)} µs/call\n`,
  );
}
const p2c = perCall.get("p2c-ewma") ?? new Map<string, number>();
const queueGroup = perCall.get("queue-group") ?? new Map<string, number>();
const extra = [...new Set([...p2c.keys(), ...queueGroup.keys()])].map(
  (frame) => [frame, (p2c.get(frame) ?? 0) - (queueGroup.get(frame) ?? 0)] as const,
);
extra.sort((a, b) => b[1] - a[1]);
const top = Number(topText);
const row = ([frame, us]: readonly [string, number]) =>
  `${us.toFixed(2).padStart(6)}  ${(queueGroup.get(frame) ?? 0).toFixed(2).padStart(6)}  ${(p2c.get(frame) ?? 0).toFixed(2).padStart(6)}  ${frame}\n`;
process.stdout.write("µs/call: p2c-ewma's extra, queue group, p2c-ewma\n");
for (const r of extra.slice(0, top)) process.stdout.write(row(r));
process.stdout.write("…\n");
for (const r of extra.slice(-Math.ceil(top / 3))) process.stdout.write(row(r));
