import { type ChildProcess, spawn } from "node:child_process";
import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { type Sidecar, startSidecar } from "@switchyard/sidecar";
import { pino } from "pino";
import { withCallers } from "../callers.js";
import { ORDER } from "../echo-contract.js";
import { type Call, interleaved, type Round, runSequential, totals } from "../measure.js";
import { formatCount, formatFixed, roundTo } from "../report.js";
import type { BenchEnv, SuiteResult } from "../suite.js";

const IN_FLIGHT = 64;
const SERVICE = "bench-sidecar";
const CALLEE = fileURLToPath(new URL("../sidecar-callee.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

type Mode = "runtime" | "sidecar" | "http";

/**
 * What a sidecar adds to a call: app → its sidecar (HTTP) → mesh → the callee's sidecar → its app
 * (HTTP), against the same echo called by the TypeScript runtime directly (a mesh caller → mesh →
 * a runtime handler), both answered by another process, in interleaved rounds: sequential for the
 * added latency, 64 in flight for the throughput ratio. A bare keep-alive HTTP echo (client and
 * server in the runner) is measured in the same rounds: the sidecar path has two such round
 * trips, which no sidecar code can remove, so `added-over-two-http` is what the sidecars cost.
 */
export async function sidecar(env: BenchEnv): Promise<SuiteResult> {
  const callee = await startCallee(env.natsUrl);
  const logger = pino({ level: "warn", base: { service: "bench-sidecar-caller" } }, pino.destination(2));
  let caller: Sidecar | undefined;
  const bare = await startBareEcho();
  try {
    caller = await startSidecar({
      name: "bench-sidecar-caller",
      port: 0,
      mesh: { servers: env.natsUrl, logger },
    });
    const viaSidecar = httpCaller(`${caller.url}/v1/call/${SERVICE}/echo`);
    await viaSidecar();
    return await withCallers(env, { direct: { name: "bench-direct-caller" } }, async ({ direct }) => {
      const calls: Record<Mode, Call> = {
        runtime: () => direct.call("bench", "echo", ORDER),
        sidecar: viaSidecar,
        http: httpCaller(`${bare.url}/echo`),
      };
      const sequential = await sequentialRounds(calls, env);
      const concurrent = await interleaved(
        { runtime: calls.runtime, sidecar: calls.sidecar },
        IN_FLIGHT,
        env,
      );
      return report(sequential, concurrent);
    });
  } finally {
    await caller?.close();
    await callee.stop();
    await bare.close();
  }
}

/** An HTTP echo on loopback: the floor of one HTTP hop, as the callee's app answers. */
async function startBareEcho(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A keep-alive HTTP client of the caller's sidecar, as an app would hold one. */
function httpCaller(url: string): Call {
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT * 2 });
  const target = new URL(url);
  const body = JSON.stringify(ORDER);
  const headers = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) };
  return () =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          hostname: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          agent,
          headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if (res.statusCode === 200) resolve(JSON.parse(text));
            else reject(new Error(`the sidecar answered ${res.statusCode}: ${text}`));
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
}

const MODES = ["runtime", "sidecar", "http"] as const;

// The sidecar path runs much more code per call than the runtime's (Fastify, two HTTP exchanges,
// schemas made from JSON Schema) and V8 optimises it only after some thousands of calls: after
// the runner's default warm-up (1 s, ~500 sidecar calls) its p50 was still ~1.5x its steady one.
const WARMUP_CALLS = 5_000;

/** Warms `call` up for `warmupMs` and on, a `warmupMs` at a time, until it has made `WARMUP_CALLS`. */
async function warmUp(call: Call, warmupMs: number): Promise<void> {
  if (warmupMs === 0) return;
  let calls = 0;
  while (calls < WARMUP_CALLS) calls += (await runSequential(call, warmupMs)).calls;
}

async function sequentialRounds(calls: Record<Mode, Call>, env: BenchEnv): Promise<Record<Mode, Round[]>> {
  const rounds: Record<Mode, Round[]> = { runtime: [], sidecar: [], http: [] };
  for (const mode of MODES) await warmUp(calls[mode], env.warmupMs);
  env.log(`sidecar: sequential, ${env.rounds} rounds of ${env.roundMs} ms each`);
  for (let r = 0; r < env.rounds; r++) {
    for (const mode of MODES) rounds[mode].push(await runSequential(calls[mode], env.roundMs));
  }
  return rounds;
}

function report(
  sequential: Record<Mode, Round[]>,
  concurrent: Record<"runtime" | "sidecar", ReturnType<typeof totals>>,
): SuiteResult {
  const runtime = totals(sequential.runtime);
  const viaSidecar = totals(sequential.sidecar);
  const http = totals(sequential.http);
  const addedP50 = viaSidecar.p50Us - runtime.p50Us;
  const addedP99 = viaSidecar.p99Us - runtime.p99Us;
  const ratio = concurrent.sidecar.callsPerSecond / concurrent.runtime.callsPerSecond;
  return {
    figures: {
      "sidecar.added-p50-us": roundTo(addedP50, 1),
      "sidecar.added-p99-us": roundTo(addedP99, 1),
      "sidecar.runtime@1.p50-us": roundTo(runtime.p50Us, 1),
      "sidecar.sidecar@1.p50-us": roundTo(viaSidecar.p50Us, 1),
      "sidecar.http@1.p50-us": roundTo(http.p50Us, 1),
      // the two HTTP round trips are the floor of any HTTP sidecar: what is above them is ours
      "sidecar.added-over-two-http-p50-us": roundTo(addedP50 - 2 * http.p50Us, 1),
      [`sidecar.runtime@${IN_FLIGHT}.calls-per-s`]: roundTo(concurrent.runtime.callsPerSecond, 0),
      [`sidecar.sidecar@${IN_FLIGHT}.calls-per-s`]: roundTo(concurrent.sidecar.callsPerSecond, 0),
      // the caller's process: the runtime's call, or the app's HTTP client and its sidecar
      [`sidecar.runtime@${IN_FLIGHT}.caller-cpu-per-call-us`]: roundTo(concurrent.runtime.cpuPerCallUs, 1),
      [`sidecar.sidecar@${IN_FLIGHT}.caller-cpu-per-call-us`]: roundTo(concurrent.sidecar.cpuPerCallUs, 1),
    },
    ratios: { [`sidecar/runtime@${IN_FLIGHT}`]: roundTo(ratio, 3) },
    tables: [
      {
        title: "a call through two sidecars vs the runtime's own call (echo, 100-byte JSON)",
        columns: ["", "p50 µs", "p99 µs", `calls/s @${IN_FLIGHT}`, "caller CPU µs/call"],
        rows: [
          [
            "runtime → runtime",
            formatFixed(runtime.p50Us),
            formatFixed(runtime.p99Us),
            formatCount(concurrent.runtime.callsPerSecond),
            formatFixed(concurrent.runtime.cpuPerCallUs),
          ],
          [
            "app → sidecar → sidecar → app",
            formatFixed(viaSidecar.p50Us),
            formatFixed(viaSidecar.p99Us),
            formatCount(concurrent.sidecar.callsPerSecond),
            formatFixed(concurrent.sidecar.cpuPerCallUs),
          ],
          [
            "bare HTTP round trip (the floor of each of the two hops)",
            formatFixed(http.p50Us),
            formatFixed(http.p99Us),
            "",
            "",
          ],
          [
            "added",
            formatFixed(addedP50),
            formatFixed(addedP99),
            `×${ratio.toFixed(3)}`,
            formatFixed(concurrent.sidecar.cpuPerCallUs - concurrent.runtime.cpuPerCallUs),
          ],
        ],
        notes: [
          "target: added p50 ≤ 300 µs",
          "both callees in another process; the calling app and its sidecar share the runner's process",
        ],
      },
    ],
  };
}

/** The callee's sidecar and app, in their own process. */
async function startCallee(natsUrl: string): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", CALLEE], {
    cwd: REPO_ROOT,
    env: { ...process.env, NATS_URL: natsUrl, SIDECAR_SERVICE: SERVICE },
    stdio: ["ignore", 2, 2, "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.send({ type: "stop" });
    else child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      child.on("message", (event: { type: string; message?: string }) =>
        event.type === "ready" ? resolve() : reject(new Error(`the sidecar callee failed: ${event.message}`)),
      );
      child.once("exit", (code) => reject(new Error(`the sidecar callee exited (code ${code})`)));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { stop };
}
