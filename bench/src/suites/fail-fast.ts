import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectMesh, isMeshError, MeshError } from "@switchyard/runtime";
import { LATENCY_COLUMNS, latencyFigures, latencyRow } from "../latency.js";
import { runSequential } from "../measure.js";
import { startPrivate } from "../nats-server.js";
import type { BenchEnv, SuiteResult } from "../suite.js";
import { failingContract } from "../timing-contracts.js";

// a caller the broker lets publish anywhere but on one service's endpoints
const PERMISSIONS = `authorization {
  users = [
    { user: "bench-caller", password: "bench", permissions: { publish: { deny: ["mesh.svc.bench-forbidden.>"] } } }
  ]
}
`;

/** ms per call of a caller whose calls the broker refuses (PERMISSION_DENIED), on its own nats-server. */
async function brokerRefusals(env: BenchEnv): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-authz-"));
  writeFileSync(join(dir, "nats-server.conf"), PERMISSIONS);
  const nats = await startPrivate(["-c", join(dir, "nats-server.conf")]);
  try {
    const caller = await connectMesh({
      name: "bench-refused-caller",
      servers: nats.url,
      logLevel: "silent",
      auth: { user: "bench-caller", pass: "bench" },
      calls: { retry: { maxAttempts: 1 } },
    });
    try {
      return await failures(env, "PERMISSION_DENIED", () => caller.call("bench-forbidden", "x", {}));
    } finally {
      await caller.close();
    }
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `call` one at a time for the rounds, checking that each fails with `code`; ms per call. */
async function failures(env: BenchEnv, code: string, call: () => Promise<unknown>): Promise<number[]> {
  const expectFailure = () =>
    call().then(
      () => {
        throw new Error(`expected ${code}, the call succeeded`);
      },
      (e: unknown) => {
        if (!isMeshError(e) || e.code !== code) throw e;
      },
    );
  await runSequential(expectFailure, env.warmupMs);
  const samples: number[] = [];
  for (let r = 0; r < env.rounds; r++) {
    for (const us of (await runSequential(expectFailure, env.roundMs)).latenciesUs) samples.push(us / 1000);
  }
  return samples;
}

/**
 * How soon the calls that must not wait fail: an open breaker answers CIRCUIT_OPEN without a
 * request, a denial whose Retry-After is beyond the deadline comes back after one round trip,
 * without waiting, and a call the broker refuses fails at once. (Tests assert that they fail so;
 * how fast is this suite's.)
 */
export async function failFast(env: BenchEnv): Promise<SuiteResult> {
  const server = await connectMesh({
    name: "bench-failing",
    servers: env.natsUrl,
    logLevel: "silent",
  });
  const caller = await connectMesh({
    name: "bench-fail-fast-caller",
    servers: env.natsUrl,
    logLevel: "silent",
    calls: {
      retry: { maxAttempts: 1 },
      breaker: { failureRatio: 0.5, minimumCalls: 10, windowMs: 10_000, openMs: 60_000 },
    },
  });
  try {
    await server.serve(failingContract, {
      run: () => {
        throw new Error("broken");
      },
      limited: () => {
        throw new MeshError("QUOTA_EXCEEDED", "slow down", { retryAfterMs: 200 });
      },
    });
    const run = () => caller.client(failingContract).run({});
    for (let i = 0; i < 10; i++) await run().catch(() => undefined);
    const open = latencyFigures("fail-fast.circuit-open", await failures(env, "CIRCUIT_OPEN", run));
    const denied = latencyFigures(
      "fail-fast.retry-after-beyond-deadline",
      await failures(env, "QUOTA_EXCEEDED", () =>
        caller.client(failingContract).limited({}, { timeoutMs: 100 }),
      ),
    );
    const refused = latencyFigures("fail-fast.broker-refused", await brokerRefusals(env));
    return {
      figures: { ...open, ...denied, ...refused },
      ratios: {},
      tables: [
        {
          title: "failing fast: ms from the call to its error, one call at a time",
          columns: [...LATENCY_COLUMNS],
          rows: [
            latencyRow("CIRCUIT_OPEN (breaker open: no request)", open),
            latencyRow("QUOTA_EXCEEDED, Retry-After 200 ms > 100 ms deadline", denied),
            latencyRow("PERMISSION_DENIED by the broker", refused),
          ],
          notes: [
            "target: CIRCUIT_OPEN p50 < 1 ms (no I/O at all)",
            "target: the denial p99 < 90 ms (one round trip, no wait for the deadline)",
            "target: the broker's refusal p99 < 100 ms",
          ],
        },
      ],
    };
  } finally {
    await Promise.all([caller.close(), server.close()]);
  }
}
