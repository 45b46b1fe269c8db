// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/ab-caller.ts CHECKOUT_A CHECKOUT_B`:
// the caller side of two checkouts in ONE process, against one responder (this checkout's) on one
// nats-server: each checkout's runtime is imported from its own `mesh-runtime/src`, and their
// rounds alternate A, B, A, B... (ROUNDS each, default 8), so both meet the same machine load,
// second by second, as separate processes taken in turn (`ab.ts`) do not. Prints, per checkout,
// the caller's CPU per call at 64 in flight (median and least of the rounds) and the p50 of
// sequential calls (median of the rounds): the responder is the same, so the difference is the
// caller's. A checkout needs node_modules as `ab.ts` says.
import { resolve } from "node:path";
import { pino } from "pino";
import { echoContract, ORDER } from "../echo-contract.js";
import { type Call, runConcurrent, runSequential } from "../measure.js";
import { startPrivate } from "../nats-server.js";
import { startResponder } from "../responder-process.js";

interface Runtime {
  connectMesh(options: unknown): Promise<{
    client(contract: unknown): { echo(input: unknown): Promise<unknown> };
    close(): Promise<void>;
  }>;
}

const checkouts = process.argv.slice(2);
if (checkouts.length < 2) throw new Error("usage: ab-caller.ts CHECKOUT_A CHECKOUT_B...");
const ROUNDS = Number(process.env["ROUNDS"] ?? 8);
const ROUND_MS = Number(process.env["ROUND_MS"] ?? 1_000);
const nats = await startPrivate();
const responder = await startResponder(nats.url);
const logger = pino({ level: "info" }, pino.destination(2));
const meshes: { close(): Promise<void> }[] = [];
const calls: Call[] = [];
for (const checkout of checkouts) {
  const runtime = (await import(resolve(checkout, "mesh-runtime/src/index.ts"))) as Runtime;
  const mesh = await runtime.connectMesh({ name: "bench-caller", servers: nats.url, logger });
  meshes.push(mesh);
  // the contract is this checkout's: both runtimes read only its plain fields and zod schemas
  const echo = mesh.client(echoContract);
  calls.push(() => echo.echo(ORDER));
}
const cpu = checkouts.map((): number[] => []);
const p50 = checkouts.map((): number[] => []);
try {
  for (const call of calls) {
    await runConcurrent(call, 64, 1_000);
    await runSequential(call, 500);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, call] of calls.entries()) {
      const r = await runConcurrent(call, 64, ROUND_MS);
      cpu[i]?.push(r.cpuUs / r.calls);
    }
    for (const [i, call] of calls.entries()) {
      const r = await runSequential(call, ROUND_MS / 2);
      const sorted = Float64Array.from(r.latenciesUs).sort();
      p50[i]?.push(sorted[Math.floor(sorted.length / 2)] as number);
    }
  }
} finally {
  for (const mesh of meshes) await mesh.close();
  await responder.stop();
  await nats.stop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const r1 = (x: number) => Math.round(x * 10) / 10;
for (const [i, checkout] of checkouts.entries()) {
  const c = cpu[i] ?? [];
  const p = p50[i] ?? [];
  process.stdout.write(
    `${JSON.stringify({ checkout, cpuMedianUs: r1(median(c)), cpuLeastUs: r1(Math.min(...c)), p50MedianUs: r1(median(p)), cpu: c.map(r1), p50: p.map(r1) })}\n`,
  );
}
