// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/turnaround.ts [CHECKOUT...]`:
// where a sequential call's time goes, side by side. One nats-server, this checkout's responder
// process and the callers in this process, both under `turnaround-probe.ts`; sequential rounds
// (ROUND_MS, default 500) alternate floor b and the mesh caller of each checkout (default: this
// one; each checkout's runtime from its own `mesh-runtime/src`, as `ab-caller.ts`), ROUNDS times
// (default 10). Per client, the medians over its calls of: the call's latency, the caller's
// turnaround (its reply read to its next request written: decode, settle, the loop, the next
// call up to its write), the callee's (request read to reply written), and what is left (the
// two trips through the broker and the kernel). Two meshes compared here share the responder, so
// their callee figures differ only by the load they met.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { echoContract, ORDER, ORDER_BYTES, RAW_ECHO_SUBJECT } from "../echo-contract.js";
import { BareInboxFloor } from "../floors.js";
import { type Call, runSequential } from "../measure.js";
import { startPrivate } from "../nats-server.js";
import { startResponder } from "../responder-process.js";

interface Runtime {
  connectMesh(options: unknown): Promise<{
    client(contract: unknown): { echo(input: unknown): Promise<unknown> };
    close(): Promise<void>;
  }>;
}

const PROBE = fileURLToPath(new URL("./turnaround-probe.ts", import.meta.url));
const ROUNDS = Number(process.env["ROUNDS"] ?? 10);
const ROUND_MS = Number(process.env["ROUND_MS"] ?? 500);
const checkouts = process.argv.length > 2 ? process.argv.slice(2) : [process.cwd()];
const nats = await startPrivate();
const port = Number(new URL(nats.url.replace(/^nats:/, "http:")).port);
process.env["TURNAROUND_PORT"] = String(port);
const { turnarounds, marks } = (await import(PROBE)) as { turnarounds: number[]; marks: (string | number)[] };
const out = join(mkdtempSync(join(tmpdir(), "turnaround-")), "callee.json");
const responder = await startResponder(
  nats.url,
  { TURNAROUND_PORT: String(port), TURNAROUND_OUT: out },
  20_000,
  [
    // tsx first: the probe is TypeScript
    "--import",
    "tsx",
    "--import",
    PROBE,
  ],
);
const logger = pino({ level: "info" }, pino.destination(2));
const nc = await connect({ servers: nats.url });
const floor = new BareInboxFloor(nc);
const clients: [string, Call, () => Promise<void>][] = [
  ["floor-b", () => floor.request(RAW_ECHO_SUBJECT, ORDER_BYTES), () => nc.drain()],
];
for (const [i, checkout] of checkouts.entries()) {
  const runtime = (await import(resolve(checkout, "mesh-runtime/src/index.ts"))) as Runtime;
  const mesh = await runtime.connectMesh({ name: "bench-caller", servers: nats.url, logger });
  const echo = mesh.client(echoContract);
  clients.push([checkouts.length > 1 ? `mesh ${i}` : "mesh", () => echo.echo(ORDER), () => mesh.close()]);
}
/** Per client: its windows of sequential calls [start ns, end ns], and each round's latencies. */
const windows = new Map<string, [number, number][]>();
const latencies = new Map<string, number[]>();
const now = () => Number(process.hrtime.bigint());
try {
  for (const [, call] of clients) await runSequential(call, 1_000);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, call] of clients) {
      const start = now();
      const r = await runSequential(call, ROUND_MS);
      windows.set(name, [...(windows.get(name) ?? []), [start, now()]]);
      latencies.set(name, [...(latencies.get(name) ?? []), ...r.latenciesUs]);
    }
  }
} finally {
  for (const [, , close] of clients) await close();
  await responder.stop();
  await nats.stop();
}
const callee = JSON.parse(readFileSync(out, "utf8")) as { turnarounds: number[]; marks: (string | number)[] };
const median = (xs: number[]) => Float64Array.from(xs).sort()[Math.floor(xs.length / 2)] ?? Number.NaN;
const r1 = (x: number) => Math.round(x * 10) / 10;
/** Turnarounds (µs) whose read falls in one of `spans`; and per mark label, its µs since the read. */
function within(
  pairs: readonly number[],
  stamps: readonly (string | number)[],
  spans: [number, number][],
): { total: number[]; byMark: Map<string, number[]> } {
  const total: number[] = [];
  const byMark = new Map<string, number[]>();
  let m = 0;
  for (let i = 0; i < pairs.length; i += 2) {
    const read = pairs[i] as number;
    const write = pairs[i + 1] as number;
    while (m < stamps.length && (stamps[m + 1] as number) < read) m += 2;
    if (!spans.some(([a, b]) => read >= a && read < b)) continue;
    total.push((write - read) / 1_000);
    const seen = new Set<string>();
    for (let j = m; j < stamps.length && (stamps[j + 1] as number) <= write; j += 2) {
      const label = stamps[j] as string;
      if (seen.has(label)) continue;
      seen.add(label);
      byMark.set(label, [...(byMark.get(label) ?? []), ((stamps[j + 1] as number) - read) / 1_000]);
    }
  }
  return { total, byMark };
}
const marksOf = (byMark: Map<string, number[]>) =>
  Object.fromEntries([...byMark].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, r1(median(v))]));
for (const [name] of clients) {
  const spans = windows.get(name) ?? [];
  const p50 = median(latencies.get(name) ?? []);
  const caller = within(turnarounds, marks, spans);
  const served = within(callee.turnarounds, callee.marks, spans);
  const callerUs = median(caller.total);
  const calleeUs = median(served.total);
  const figures = { client: name, p50Us: r1(p50), callerUs: r1(callerUs), calleeUs: r1(calleeUs) };
  process.stdout.write(`${JSON.stringify({ ...figures, restUs: r1(p50 - callerUs - calleeUs) })}\n`);
  if (caller.byMark.size > 0)
    process.stdout.write(`  caller marks ${JSON.stringify(marksOf(caller.byMark))}\n`);
  if (served.byMark.size > 0)
    process.stdout.write(`  callee marks ${JSON.stringify(marksOf(served.byMark))}\n`);
}
