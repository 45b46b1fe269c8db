/** One request/reply as the benchmark drives it. */
export type Call = () => Promise<unknown>;

/** What one round of one client measured. */
export interface Round {
  readonly calls: number;
  readonly elapsedMs: number;
  /** Requester CPU, user + system, in µs (`process.cpuUsage()`). */
  readonly cpuUs: number;
  /** Per-call latency in µs; sequential rounds only. */
  readonly latenciesUs: readonly number[];
}

/** Rounds of one client at one setting, summed. */
export interface Totals {
  readonly calls: number;
  readonly callsPerSecond: number;
  readonly cpuPerCallUs: number;
  /** Half the range of the per-round rates, as a share of the overall rate. */
  readonly spread: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

// A round that outlives its duration by this much has lost a reply (floor b has no timeout).
const STALL_MS = 15_000;

async function guarded<T>(work: Promise<T>, durationMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error("a round stalled: a reply never came")), durationMs + STALL_MS);
  });
  try {
    return await Promise.race([work, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls one at a time for `durationMs`, timing each call. */
export function runSequential(call: Call, durationMs: number): Promise<Round> {
  return guarded(
    (async () => {
      const latenciesUs: number[] = [];
      const cpuBefore = process.cpuUsage();
      const startedAt = performance.now();
      const endAt = startedAt + durationMs;
      let now = startedAt;
      while (now < endAt) {
        const sentAt = now;
        await call();
        now = performance.now();
        latenciesUs.push((now - sentAt) * 1000);
      }
      const cpu = process.cpuUsage(cpuBefore);
      return {
        calls: latenciesUs.length,
        elapsedMs: now - startedAt,
        cpuUs: cpu.user + cpu.system,
        latenciesUs,
      };
    })(),
    durationMs,
  );
}

/**
 * Keeps `inFlight` calls outstanding for `durationMs`: that many workers, each looping on
 * `await call()`. Elapsed time runs until the last worker's last call has settled.
 */
export function runConcurrent(call: Call, inFlight: number, durationMs: number): Promise<Round> {
  return guarded(
    (async () => {
      let calls = 0;
      const cpuBefore = process.cpuUsage();
      const startedAt = performance.now();
      const endAt = startedAt + durationMs;
      const worker = async () => {
        while (performance.now() < endAt) {
          await call();
          calls++;
        }
      };
      await Promise.all(Array.from({ length: inFlight }, worker));
      const elapsedMs = performance.now() - startedAt;
      const cpu = process.cpuUsage(cpuBefore);
      return { calls, elapsedMs, cpuUs: cpu.user + cpu.system, latenciesUs: [] };
    })(),
    durationMs,
  );
}

/** Nearest-rank percentile of ascending `sorted`; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(rank, 1)) - 1] as number;
}

/** Sums rounds: rates over the total time, percentiles over every sample of every round. */
export function totals(rounds: readonly Round[]): Totals {
  let calls = 0;
  let elapsedMs = 0;
  let cpuUs = 0;
  let samples = 0;
  for (const r of rounds) {
    calls += r.calls;
    elapsedMs += r.elapsedMs;
    cpuUs += r.cpuUs;
    samples += r.latenciesUs.length;
  }
  const latencies = new Float64Array(samples);
  let at = 0;
  for (const r of rounds) {
    latencies.set(r.latenciesUs, at);
    at += r.latenciesUs.length;
  }
  latencies.sort();
  const callsPerSecond = elapsedMs > 0 ? (calls * 1000) / elapsedMs : 0;
  const rates = rounds.map((r) => (r.calls * 1000) / r.elapsedMs);
  const spread = callsPerSecond > 0 ? (Math.max(...rates) - Math.min(...rates)) / 2 / callsPerSecond : 0;
  return {
    calls,
    callsPerSecond,
    cpuPerCallUs: calls > 0 ? cpuUs / calls : Number.NaN,
    spread,
    p50Us: percentile(latencies, 50),
    p99Us: percentile(latencies, 99),
  };
}

/**
 * Several ways of making the same call, measured at `inFlight` in interleaved rounds (each warmed
 * up first), so a noisy machine shifts them alike and their ratio holds.
 */
export async function interleaved<M extends string>(
  calls: Readonly<Record<M, Call>>,
  inFlight: number,
  env: { readonly rounds: number; readonly roundMs: number; readonly warmupMs: number },
): Promise<Record<M, Totals>> {
  const modes = Object.keys(calls) as M[];
  for (const mode of modes) await runConcurrent(calls[mode], inFlight, env.warmupMs);
  const rounds = new Map<M, Round[]>(modes.map((m) => [m, []]));
  for (let r = 0; r < env.rounds; r++) {
    for (const mode of modes) rounds.get(mode)?.push(await runConcurrent(calls[mode], inFlight, env.roundMs));
  }
  return Object.fromEntries(modes.map((m) => [m, totals(rounds.get(m) ?? [])])) as Record<M, Totals>;
}
