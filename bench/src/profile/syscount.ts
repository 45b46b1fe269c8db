// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/syscount.ts`: system
// calls per call (write, read, epoll_wait, futex) of the caller (this process) and the responder, mesh and
// floor b, at 64 in flight and one at a time, counted by `perf stat` on syscall tracepoints (needs
// perf and the right to read them: root, or a low kernel.perf_event_paranoid). Tells whether a
// request costs an extra message, flush or wake-up on either side.
import { execFile } from "node:child_process";
import { runConcurrent, runSequential } from "../measure.js";
import { startPrivate } from "../nats-server.js";
import { startResponder } from "../responder-process.js";
import { meshAndFloor } from "./mesh-and-floor.js";

const SYSCALLS = ["write", "writev", "read", "epoll_wait", "futex"];
const EVENTS = SYSCALLS.map((s) => `syscalls:sys_enter_${s}`).join(",");
const SECONDS = 2;

/** `perf stat` on `pid` for `SECONDS`: its CSV lines (count first, event third). */
function perf(pid: number): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      "perf",
      ["stat", "-x,", "-e", EVENTS, "-p", String(pid), "--", "sleep", String(SECONDS)],
      (_error, _stdout, stderr) => resolve(stderr),
    );
  });
}

function perCall(csv: string, calls: number): string {
  return csv
    .trim()
    .split("\n")
    .map((line) => {
      const fields = line.split(",");
      const name = (fields[2] ?? "").replace("syscalls:sys_enter_", "");
      return `${name}=${(Number(fields[0]) / calls).toFixed(2)}`;
    })
    .join(" ");
}

const nats = await startPrivate();
const responder = await startResponder(nats.url);
const callers = await meshAndFloor(nats.url);
const { calls } = callers;
for (const call of Object.values(calls)) await runConcurrent(call, 64, 1_000);
for (const inFlight of [64, 1]) {
  for (const [name, call] of Object.entries(calls)) {
    const counted = Promise.all([perf(responder.pid as number), perf(process.pid)]);
    const r =
      inFlight === 1
        ? await runSequential(call, SECONDS * 1_000)
        : await runConcurrent(call, inFlight, SECONDS * 1_000);
    const [callee, caller] = await counted;
    process.stdout.write(
      `${name}@${inFlight} ${r.calls} calls\n  caller ${perCall(caller, r.calls)}\n  callee ${perCall(callee, r.calls)}\n`,
    );
  }
}
await callers.close();
await responder.stop();
await nats.stop();
