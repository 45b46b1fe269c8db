import { controllerContract, startController } from "@switchyard/controller";
import {
  type ContractClient,
  connectMesh,
  isMeshError,
  type Mesh,
  type MeshOptions,
} from "@switchyard/runtime";
import { noisyChain } from "../../../test/fixtures/noisy-chain.js";
import { LATENCY_COLUMNS, latencyFigures, latencyRow } from "../latency.js";
import { benchRedis } from "../redis-server.js";
import type { BenchEnv, SuiteResult } from "../suite.js";
import { loopFor } from "../timed-loops.js";

const { orders, payments, policy } = noisyChain("bench-");

/** A's quota on charges, per second; its flood is many times more. */
const A_RATE = 10;
const A_LOOPS = 16;
const B_LOOPS = 2;
const B_PAUSE_MS = 5;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** B's calls for `ms`: the latency of each success, and how many there were of each outcome. */
async function quiet(client: ContractClient<typeof orders>, ms: number) {
  const latencies: number[] = [];
  let calls = 0;
  await loopFor(B_LOOPS, ms, async () => {
    const started = performance.now();
    calls++;
    const r = await client.create({ amount: 2 }, { tenant: "b" }).catch((e: unknown) => e);
    if (!isMeshError(r)) latencies.push(performance.now() - started);
    await sleep(B_PAUSE_MS);
  });
  return { latencies, calls };
}

/**
 * Failure isolation (issue 15): tenant B's calls through an edge → orders → payments chain, alone
 * and while tenant A floods the same chain far past its Redis quota (A gets 429s). B's success
 * rate and its p99 with A flooding over its p99 alone; every process shares this one event loop,
 * so the ratio includes the CPU A's flood takes.
 */
export async function noisyNeighbour(env: BenchEnv): Promise<SuiteResult> {
  const redis = await benchRedis();
  const controller = await startController({ mesh: { servers: env.natsUrl, logLevel: "warn" } });
  const meshes: Mesh[] = [];
  const mesh = async (name: string, options: Partial<MeshOptions> = {}) => {
    const m = await connectMesh({ logLevel: "silent", ...options, name, servers: env.natsUrl });
    meshes.push(m);
    return m;
  };
  try {
    for (let i = 0; i < 2; i++) {
      const pay = await mesh("bench-payments", { redis: { url: redis.url, commandTimeoutMs: 1_000 } });
      await pay.serve(payments, {
        charge: ({ amount }) => sleep(2).then(() => ({ chargeId: `c-${amount}` })),
      });
      const ord = await mesh("bench-orders");
      await ord.serve(orders, {
        create: (input, ctx) => ctx.call(payments.name, "charge", input) as Promise<{ chargeId: string }>,
      });
    }
    const edge = await mesh("bench-edge");
    const { version } = await edge.client(controllerContract).apply({ document: policy(A_RATE) });
    while (meshes.some((m) => m.policyVersion < version)) await sleep(20);
    const client = edge.client(orders);
    const aCodes = new Map<string, number>();
    let floodMs = 0;
    /** A's loops, as fast as they are answered, while B runs `ms` (after A's own warm-up). */
    const flooded = async (ms: number) => {
      let flooding = true;
      const flood = Promise.all(
        Array.from({ length: A_LOOPS }, async () => {
          while (flooding) {
            const r = await client.create({ amount: 1 }, { tenant: "a" }).catch((e: unknown) => e);
            const code = isMeshError(r) ? r.code : "OK";
            aCodes.set(code, (aCodes.get(code) ?? 0) + 1);
          }
        }),
      );
      await sleep(env.warmupMs / 2);
      const started = performance.now();
      const round = await quiet(client, ms);
      floodMs += performance.now() - started + env.warmupMs / 2;
      flooding = false;
      await flood;
      return round;
    };
    env.log("noisy-neighbour: warm-up");
    await quiet(client, env.warmupMs);
    // rounds alone and flooded interleave, so a machine's drifting load weighs on both alike
    const alone = { latencies: [] as number[], calls: 0 };
    const noisy = { latencies: [] as number[], calls: 0 };
    for (let r = 0; r < env.rounds; r++) {
      env.log(`noisy-neighbour: round ${r + 1} of ${env.rounds}, B alone then with A flooding`);
      const calm = await quiet(client, env.roundMs);
      const loud = await flooded(env.roundMs);
      alone.latencies.push(...calm.latencies);
      alone.calls += calm.calls;
      noisy.latencies.push(...loud.latencies);
      noisy.calls += loud.calls;
    }
    const floodSeconds = floodMs / 1_000;

    const aloneFigures = latencyFigures("noisy-neighbour.quiet-alone", alone.latencies);
    const noisyFigures = latencyFigures("noisy-neighbour.quiet-flooded", noisy.latencies);
    const success = noisy.calls === 0 ? 0 : noisy.latencies.length / noisy.calls;
    const aSent = [...aCodes.values()].reduce((s, n) => s + n, 0);
    const ratio =
      (noisyFigures["noisy-neighbour.quiet-flooded.p99-ms"] ?? 0) /
      (aloneFigures["noisy-neighbour.quiet-alone.p99-ms"] ?? 1);
    return {
      figures: {
        ...aloneFigures,
        ...noisyFigures,
        "noisy-neighbour.quiet-calls": noisy.calls,
        "noisy-neighbour.noisy-calls-per-s": Math.round(aSent / floodSeconds),
        "noisy-neighbour.noisy-quota-per-s": A_RATE,
        "noisy-neighbour.noisy-429s": aCodes.get("QUOTA_EXCEEDED") ?? 0,
        "noisy-neighbour.noisy-other-failures":
          aSent - (aCodes.get("OK") ?? 0) - (aCodes.get("QUOTA_EXCEEDED") ?? 0),
      },
      ratios: {
        "noisy-neighbour.quiet-success": Math.round(success * 10_000) / 10_000,
        "noisy-neighbour.quiet-p99/alone": Math.round(ratio * 1000) / 1000,
      },
      tables: [
        {
          title: `noisy neighbour: B's ms per successful call, A flooding at ${Math.round(aSent / floodSeconds)}/s over a ${A_RATE}/s quota`,
          columns: [...LATENCY_COLUMNS],
          rows: [
            latencyRow(`B alone (${B_LOOPS} loops, ${B_PAUSE_MS} ms apart)`, aloneFigures),
            latencyRow(`B while A floods (${A_LOOPS} loops)`, noisyFigures),
          ],
          notes: [
            `B's success rate with A flooding: ${success.toFixed(4)} (target ≥ 0.999)`,
            `B's p99 flooded / alone: ${ratio.toFixed(2)} (target ≤ 2)`,
            `A: ${JSON.stringify(Object.fromEntries(aCodes))}`,
          ],
        },
      ],
    };
  } finally {
    await Promise.all(meshes.map((m) => m.close()));
    await controller.close();
    await redis.stop();
  }
}
