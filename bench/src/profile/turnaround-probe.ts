// `--import ./bench/src/profile/turnaround-probe.ts` (or imported first): stamps every socket read
// (`push`, before its 'data' listeners run) and write (on entry, before the syscall) on the socket
// to `TURNAROUND_PORT`, with `process.hrtime.bigint()` (CLOCK_MONOTONIC: the same clock in every
// process). A write that follows a read on the same socket is one turnaround: how long the process
// held the message before the next one left (a callee: request to reply; a sequential caller:
// reply to its next request). Each is kept as [read ns, write ns]; a process with
// `TURNAROUND_OUT` set writes them there as JSON when it exits. `turnaround.ts` reads them.
import { writeFileSync } from "node:fs";
import { Socket } from "node:net";

const port = Number(process.env["TURNAROUND_PORT"]);
const lastRead = new WeakMap<Socket, number>();
/** Flat pairs: read ns, write ns. */
export const turnarounds: number[] = [];
const now = () => Number(process.hrtime.bigint());

const proto = Socket.prototype as unknown as {
  push(chunk: unknown, encoding?: unknown): boolean;
  write(...args: unknown[]): boolean;
};
const push = proto.push;
const write = proto.write;
proto.push = function (this: Socket, chunk: unknown, encoding?: unknown): boolean {
  if (chunk !== null && this.remotePort === port) lastRead.set(this, now());
  return push.call(this, chunk, encoding);
};
proto.write = function (this: Socket, ...args: unknown[]): boolean {
  if (this.remotePort === port) {
    const at = now();
    const read = lastRead.get(this);
    if (read !== undefined) {
      turnarounds.push(read, at);
      lastRead.delete(this);
    }
  }
  return write.apply(this, args);
};

/**
 * Marks a scratch build may stamp on the path (`globalThis.__mark?.("label")`): each turnaround
 * reports, per label, its first mark's time since the read. Flat: label, ns.
 */
export const marks: (string | number)[] = [];
(globalThis as { __mark?: (label: string) => void }).__mark = (label) => {
  marks.push(label, now());
};

const out = process.env["TURNAROUND_OUT"];
if (out !== undefined) process.once("exit", () => writeFileSync(out, JSON.stringify({ turnarounds, marks })));
