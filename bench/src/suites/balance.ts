import { connectMesh, type Mesh, type MeshOptions } from "@switchyard/runtime";
import { LATENCY_COLUMNS, latencyFigures, latencyRow } from "../latency.js";
import { type Call, type Round, runConcurrent, totals } from "../measure.js";
import type { BenchEnv, SuiteResult } from "../suite.js";
import { loopFor } from "../timed-loops.js";
import { shedContract } from "../timing-contracts.js";

const SLOW_EXTRA_MS = 200;
/** The measurement: one of three instances 200 ms slower under 100 calls in flight. */
const IN_FLIGHT = 100;
const THROUGHPUT_IN_FLIGHT = 64;
const MODES = ["p2c-ewma", "queue-group"] as const;
type Mode = (typeof MODES)[number];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whole-call latencies, ms, of `IN_FLIGHT` loops calling for `ms`, and the share instance `c` answered. */
async function latencies(caller: Mesh, ms: number): Promise<{ ms: number[]; shareOfC: number }> {
  const out: number[] = [];
  let ofC = 0;
  await loopFor(IN_FLIGHT, ms, async () => {
    const started = performance.now();
    const { instance } = await caller.client(shedContract).run({});
    out.push(performance.now() - started);
    if (instance === "c") ofC++;
  });
  return { ms: out, shareOfC: ofC / Math.max(1, out.length) };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Paired rounds per measured round the runner asks for: many short pairs, so one bad pair is
 * outvoted. Single pairs ranged 0.6–1.4 on the shared machine, and twelve left the median ±4%
 * from run to run; twenty-four halve its variance for ~18 s more.
 */
const PAIRS_PER_ROUND = 8;

/** One pair of back-to-back rounds, one of each arm. */
interface Pair {
  readonly p2c: Round;
  readonly queueGroup: Round;
}

/**
 * The throughput method: both arms warmed up alike, then pairs of back-to-back rounds of half a
 * runner's round each, p2c-ewma first in even pairs and the queue group first in odd ones, so
 * neither arm always inherits the other's garbage or a JIT pause, and a drift in the machine's
 * load hits both halves of a pair.
 */
async function pairedRounds(p2c: Call, queueGroup: Call, env: BenchEnv): Promise<Pair[]> {
  const roundMs = Math.max(100, env.roundMs / 2);
  const round = (call: Call) => runConcurrent(call, THROUGHPUT_IN_FLIGHT, roundMs);
  await runConcurrent(p2c, THROUGHPUT_IN_FLIGHT, env.warmupMs);
  await runConcurrent(queueGroup, THROUGHPUT_IN_FLIGHT, env.warmupMs);
  const pairs: Pair[] = [];
  for (let i = 0; i < env.rounds * PAIRS_PER_ROUND; i++) {
    if (i % 2 === 0) {
      const first = await round(p2c);
      pairs.push({ p2c: first, queueGroup: await round(queueGroup) });
    } else {
      const first = await round(queueGroup);
      pairs.push({ p2c: await round(p2c), queueGroup: first });
    }
  }
  return pairs;
}

const rateOf = (r: Round) => (r.calls * 1000) / r.elapsedMs;
const rateRatio = (pair: Pair) => rateOf(pair.p2c) / rateOf(pair.queueGroup);
const roundText = (r: Round) => `${Math.round(rateOf(r))}/s, ${(r.cpuUs / r.calls).toFixed(1)} µs CPU/call`;
/** One pair for the progress log: each arm's rate and CPU per call, and the ratio. */
const describePair = (pair: Pair) =>
  `p2c-ewma ${roundText(pair.p2c)}; queue group ${roundText(pair.queueGroup)}; ratio ${rateRatio(pair).toFixed(3)}`;

/** The median of ascending `sorted`. */
function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Balancing (issue 18): callers' p99 with one of three instances 200 ms slow over their p99 with all
 * healthy, for `p2c-ewma` and for the queue group, measured side by side; and throughput with all
 * healthy at 64 in flight, p2c-ewma over the queue group: the median ratio of paired rounds
 * (`pairedRounds`).
 */
export async function balance(env: BenchEnv): Promise<SuiteResult> {
  const meshes: Mesh[] = [];
  const mesh = async (name: string, options: Partial<MeshOptions> = {}) => {
    const m = await connectMesh({ logLevel: "silent", ...options, name, servers: env.natsUrl });
    meshes.push(m);
    return m;
  };
  let slow = false;
  try {
    for (const instance of ["a", "b", "c"]) {
      const served = await mesh("bench-shed", { policy: { follow: false } });
      await served.serve(shedContract, {
        run: async () => {
          if (slow && instance === "c") await sleep(SLOW_EXTRA_MS);
          return { instance };
        },
      });
    }
    const callers = {} as Record<Mode, Mesh>;
    for (const mode of MODES) {
      callers[mode] = await mesh(`bench-balance-${mode}`, {
        policy: { follow: false },
        calls: { balance: mode },
      });
    }
    const measureMs = env.rounds * env.roundMs;
    const figures: Record<string, number> = {};
    const ratios: Record<string, number> = {};
    const rows: string[][] = [];
    for (const mode of MODES) {
      const caller = callers[mode];
      slow = false;
      // warms the JIT and, for p2c-ewma, the caller's membership and latency averages
      await latencies(caller, env.warmupMs);
      const healthy = latencyFigures(`balance.${mode}.healthy`, (await latencies(caller, measureMs)).ms);
      slow = true;
      await latencies(caller, env.warmupMs);
      const withSlow = await latencies(caller, measureMs);
      const degraded = latencyFigures(`balance.${mode}.slow-instance`, withSlow.ms);
      slow = false;
      Object.assign(figures, healthy, degraded);
      figures[`balance.${mode}.slow-instance.share-of-calls`] = round3(withSlow.shareOfC);
      const ratio =
        (degraded[`balance.${mode}.slow-instance.p99-ms`] ?? 0) /
        (healthy[`balance.${mode}.healthy.p99-ms`] ?? 1);
      ratios[`slow-instance.p99/healthy.${mode}`] = round3(ratio);
      rows.push(
        latencyRow(`${mode}: all healthy (${IN_FLIGHT} in flight)`, healthy),
        latencyRow(
          `${mode}: one of three ${SLOW_EXTRA_MS} ms slow (it answered ${(withSlow.shareOfC * 100).toFixed(1)}%)`,
          degraded,
        ),
      );
    }
    // the issue names the p2c-ewma figure plainly
    ratios["slow-instance.p99/healthy"] = ratios["slow-instance.p99/healthy.p2c-ewma"] ?? Number.NaN;

    const call = (mode: Mode) => () => callers[mode].client(shedContract).run({});
    const pairs = await pairedRounds(call("p2c-ewma"), call("queue-group"), env);
    const p2c = totals(pairs.map((p) => p.p2c));
    const queueGroup = totals(pairs.map((p) => p.queueGroup));
    for (const [i, pair] of pairs.entries()) env.log(`balance pair ${i + 1}: ${describePair(pair)}`);
    const pairRatios = pairs.map(rateRatio).sort((x, y) => x - y);
    figures["balance.p2c-ewma.calls-per-s@64"] = Math.round(p2c.callsPerSecond);
    figures["balance.queue-group.calls-per-s@64"] = Math.round(queueGroup.callsPerSecond);
    figures["balance.p2c-ewma.cpu-us-per-call@64"] = round1(p2c.cpuPerCallUs);
    figures["balance.queue-group.cpu-us-per-call@64"] = round1(queueGroup.cpuPerCallUs);
    figures["balance.p2c/queue-group@64.rounds"] = pairs.length;
    figures["balance.p2c/queue-group@64.lowest-round"] = round3(pairRatios[0] ?? Number.NaN);
    figures["balance.p2c/queue-group@64.highest-round"] = round3(pairRatios.at(-1) ?? Number.NaN);
    figures["balance.p2c/queue-group@64.of-totals"] = round3(p2c.callsPerSecond / queueGroup.callsPerSecond);
    ratios["balance.p2c/queue-group@64"] = round3(median(pairRatios));

    return {
      figures,
      ratios,
      tables: [
        {
          title: "balance: ms per call, one caller, three instances (one made slow)",
          columns: [...LATENCY_COLUMNS],
          rows,
          notes: [
            "target: slow-instance.p99/healthy (p2c-ewma) ≤ 1.5; the queue group's beside it",
            `throughput all healthy at ${THROUGHPUT_IN_FLIGHT} in flight: p2c-ewma ${figures["balance.p2c-ewma.calls-per-s@64"]}/s, queue group ${figures["balance.queue-group.calls-per-s@64"]}/s`,
            `balance.p2c/queue-group@64: median of ${pairs.length} paired rounds' ratios ${ratios["balance.p2c/queue-group@64"]} (${figures["balance.p2c/queue-group@64.lowest-round"]}–${figures["balance.p2c/queue-group@64.highest-round"]}; target ≥ 0.95)`,
          ],
        },
      ],
    };
  } finally {
    await Promise.all(meshes.map((m) => m.close()));
  }
}
