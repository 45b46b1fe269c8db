import { connectMesh, isMeshError, type Mesh, type MeshOptions } from "@switchyard/runtime";
import { LATENCY_COLUMNS, latencyFigures, latencyRow } from "../latency.js";
import type { BenchEnv, SuiteResult } from "../suite.js";
import { loopFor } from "../timed-loops.js";
import { shedContract } from "../timing-contracts.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `workers` loops calling for `ms`; the latency of each successful call, by the instance that served it. */
async function load(caller: Mesh, workers: number, ms: number, onShed: () => Promise<void>) {
  const served: Array<{ instance: string; ms: number }> = [];
  let failed = 0;
  await loopFor(workers, ms, async () => {
    const started = performance.now();
    try {
      const { instance } = await caller.client(shedContract).run({});
      served.push({ instance, ms: performance.now() - started });
    } catch (e) {
      if (!isMeshError(e)) throw e;
      failed++;
      await onShed();
    }
  });
  return { served, failed };
}

/**
 * Tail latency under shedding (the flow-control tests assert the behaviour; the speeds are here):
 * three instances, one slow with a single slot, where callers retry sheds onto the fast ones; and
 * one instance with an adaptive limit whose latency rises past a knee of 8 in flight.
 */
export async function shedding(env: BenchEnv): Promise<SuiteResult> {
  const meshes: Mesh[] = [];
  const mesh = async (name: string, options: Partial<MeshOptions> = {}) => {
    const m = await connectMesh({ logLevel: "silent", ...options, name, servers: env.natsUrl });
    meshes.push(m);
    return m;
  };
  const durationMs = env.warmupMs + env.rounds * env.roundMs;
  try {
    for (const [instance, latencyMs, limit] of [
      ["fast-1", 5, 100],
      ["fast-2", 5, 100],
      ["slow", 50, 1],
    ] as const) {
      const served = await mesh("bench-shed", { calls: { concurrency: { limit } } });
      await served.serve(shedContract, { run: () => sleep(latencyMs).then(() => ({ instance })) });
    }
    const retrying = await mesh("bench-shed-caller", {
      calls: { retry: { maxAttempts: 20, budget: { ratio: 1, minPerSecond: 100, windowMs: 10_000 } } },
    });
    const mixed = await load(retrying, 32, durationMs, async () => undefined);
    const all = latencyFigures(
      "shedding.slow-instance.all",
      mixed.served.map((s) => s.ms),
    );
    const fast = latencyFigures(
      "shedding.slow-instance.fast",
      mixed.served.filter((s) => s.instance !== "slow").map((s) => s.ms),
    );
    await Promise.all(meshes.splice(0).map((m) => m.close()));

    const knee = 8;
    let inFlight = 0;
    const adaptive = await mesh("bench-shed", {
      calls: { concurrency: { mode: "adaptive", limit: 2, minLimit: 1, maxLimit: 200 } },
    });
    await adaptive.serve(shedContract, {
      run: async () => {
        inFlight++;
        await sleep(5 * Math.max(1, inFlight / knee)); // queueing past the knee
        inFlight--;
        return { instance: "adaptive" };
      },
    });
    const once = await mesh("bench-shed-caller", {
      calls: { retry: { maxAttempts: 1 }, breaker: { enabled: false } },
    });
    const limited = await load(once, 48, durationMs, () => sleep(2));
    const admitted = latencyFigures(
      "shedding.adaptive",
      limited.served.map((s) => s.ms),
    );
    const ratio =
      (all["shedding.slow-instance.all.p99-ms"] ?? 0) / (fast["shedding.slow-instance.fast.p99-ms"] ?? 1);
    return {
      figures: { ...all, ...fast, ...admitted, "shedding.slow-instance.failed": mixed.failed },
      ratios: { "shedding.p99-all/p99-fast": Math.round(ratio * 1000) / 1000 },
      tables: [
        {
          title: "shedding: ms per successful call under load",
          columns: [...LATENCY_COLUMNS],
          rows: [
            latencyRow("slow instance among fast ones: every call (32 in flight)", all),
            latencyRow("  the calls the fast instances served", fast),
            latencyRow("adaptive limit, knee at 8 (48 in flight)", admitted),
          ],
          notes: ["target: p99 of every call ≤ 3× p99 of the fast ones", "target: adaptive p99 < 60 ms"],
        },
      ],
    };
  } finally {
    await Promise.all(meshes.map((m) => m.close()));
  }
}
