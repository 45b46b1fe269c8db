import { EndpointData, type StatsResponse } from "@switchyard/schemas";

/** One endpoint as `switchyard top` shows it, summed over its instances. */
export interface EndpointRow extends Figures {
  service: string;
  endpoint: string;
  instances: number;
  /** Since the instances started. */
  calls: number;
  errors: number;
  inFlight: number;
  sheds: number;
  quotaDenied: number;
  /** How many calling processes hold the breaker to this endpoint in each state. */
  breakers: { closed: number; "half-open": number; open: number };
}

/** The counters of one endpoint summed over instances: what two samples are compared by. */
/** Calls, errors and a latency histogram: summed per endpoint, or per edge. */
interface Tally {
  calls: number;
  errors: number;
  boundsMs: readonly number[];
  counts: number[];
}

interface Totals extends Tally {
  instances: number;
  inFlight: number;
  sheds: number;
  quotaDenied: number;
}

export type Sample = Map<string, Totals>;

/** Sums STATS replies per service/endpoint. Replies from other NATS micro services count too. */
export function sampleOf(replies: readonly StatsResponse[]): Sample {
  const sample: Sample = new Map();
  for (const reply of replies) {
    for (const e of reply.endpoints) {
      const key = `${reply.name}/${e.name}`;
      let t = sample.get(key);
      if (t === undefined) {
        t = {
          instances: 0,
          calls: 0,
          errors: 0,
          inFlight: 0,
          sheds: 0,
          quotaDenied: 0,
          boundsMs: [],
          counts: [],
        };
        sample.set(key, t);
      }
      t.instances++;
      t.calls += e.num_requests;
      t.errors += e.num_errors;
      const data = EndpointData.safeParse(e.data);
      if (!data.success) continue;
      t.inFlight += data.data.inFlight;
      t.sheds += data.data.sheds;
      for (const byTenant of Object.values(data.data.quota ?? {})) t.quotaDenied += byTenant["denied"] ?? 0;
      const { boundsMs, counts } = data.data.latency;
      if (t.counts.length === 0) {
        t.boundsMs = boundsMs;
        t.counts = counts.map(() => 0);
      }
      // instances of another runtime version may bucket differently: those are left out
      if (sameBounds(t.boundsMs, boundsMs)) {
        for (let i = 0; i < counts.length; i++) t.counts[i] = (t.counts[i] ?? 0) + (counts[i] as number);
      }
    }
  }
  return sample;
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The `q` quantile of a bucketed histogram, interpolated within its bucket; the open last bucket
 * answers with the highest bound. Null when it holds nothing.
 */
export function quantile(boundsMs: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c > 0 && seen + c >= rank) {
      if (i >= boundsMs.length) return boundsMs[boundsMs.length - 1] ?? null;
      const lower = i === 0 ? 0 : (boundsMs[i - 1] as number);
      const upper = boundsMs[i] as number;
      return lower + ((upper - lower) * (rank - seen)) / c;
    }
    seen += c;
  }
  return boundsMs[boundsMs.length - 1] ?? null;
}

/** Breaker states per target endpoint, each calling process counted once. */
export function breakersOf(replies: readonly StatsResponse[]): Map<string, EndpointRow["breakers"]> {
  const seen = new Set<string>();
  const out = new Map<string, EndpointRow["breakers"]>();
  for (const reply of replies) {
    // a process serving two services answers twice with the same id and the same calls
    if (seen.has(reply.id)) continue;
    seen.add(reply.id);
    for (const call of reply.mesh_calls ?? []) {
      const key = `${call.service}/${call.endpoint}`;
      const counts = out.get(key) ?? { closed: 0, "half-open": 0, open: 0 };
      counts[call.breaker]++;
      out.set(key, counts);
    }
  }
  return out;
}

/** Rate, success and latency of one tally over an interval: what endpoints and edges share. */
export interface Figures {
  /** Over the last interval (0 on the first sample). */
  callsPerSec: number;
  /** Share of calls without an error reply: over the interval when it had calls, else lifetime. */
  successRate: number | null;
  /** Estimated from the latency histograms, over the same span as `successRate`. */
  p50Ms: number | null;
  p99Ms: number | null;
  window: "interval" | "lifetime";
}

function figures(t: Tally, before: Tally | undefined, hasPrevious: boolean, elapsedMs: number): Figures {
  // an instance that restarted counts from zero again: then the interval is unknown
  const delta = before !== undefined && before.calls <= t.calls ? t.calls - before.calls : 0;
  const interval = delta > 0 && before !== undefined && sameBounds(before.boundsMs, t.boundsMs);
  const counts = interval ? t.counts.map((c, i) => c - (before.counts[i] ?? 0)) : t.counts;
  const calls = interval ? delta : t.calls;
  const errors = interval ? Math.max(0, t.errors - before.errors) : t.errors;
  return {
    callsPerSec: !hasPrevious || elapsedMs <= 0 ? 0 : round((delta * 1_000) / elapsedMs),
    successRate: calls === 0 ? null : round((calls - errors) / calls, 4),
    p50Ms: roundOrNull(quantile(t.boundsMs, counts, 0.5)),
    p99Ms: roundOrNull(quantile(t.boundsMs, counts, 0.99)),
    window: interval ? "interval" : "lifetime",
  };
}

/** The rows of one refresh: `now` against the previous sample, `elapsedMs` apart. */
export function rowsOf(
  now: Sample,
  previous: Sample | undefined,
  elapsedMs: number,
  breakers: Map<string, EndpointRow["breakers"]>,
): EndpointRow[] {
  const rows: EndpointRow[] = [];
  for (const [key, t] of now) {
    const [service = "", endpoint = ""] = key.split("/");
    rows.push({
      service,
      endpoint,
      instances: t.instances,
      calls: t.calls,
      errors: t.errors,
      ...figures(t, previous?.get(key), previous !== undefined, elapsedMs),
      inFlight: t.inFlight,
      sheds: t.sheds,
      quotaDenied: t.quotaDenied,
      breakers: breakers.get(key) ?? { closed: 0, "half-open": 0, open: 0 },
    });
  }
  // endpoints nobody serves any more still show the breakers their callers hold open
  for (const [key, states] of breakers) {
    if (now.has(key)) continue;
    const [service = "", endpoint = ""] = key.split("/");
    rows.push({
      service,
      endpoint,
      instances: 0,
      calls: 0,
      errors: 0,
      callsPerSec: 0,
      successRate: null,
      p50Ms: null,
      p99Ms: null,
      window: "lifetime",
      inFlight: 0,
      sheds: 0,
      quotaDenied: 0,
      breakers: states,
    });
  }
  return rows.sort((a, b) => `${a.service}/${a.endpoint}`.localeCompare(`${b.service}/${b.endpoint}`));
}

/** One observed caller → callee edge, summed over the callee's endpoints and instances. */
export interface EdgeRow extends Figures {
  caller: string;
  service: string;
  calls: number;
  errors: number;
}

export type EdgeSample = Map<string, Tally>;

/** Sums the callee-side per-caller tallies of STATS replies into caller → service edges. */
export function edgesOf(replies: readonly StatsResponse[]): EdgeSample {
  const edges: EdgeSample = new Map();
  for (const reply of replies) {
    for (const e of reply.endpoints) {
      const data = EndpointData.safeParse(e.data);
      if (!data.success) continue;
      const boundsMs = data.data.latency.boundsMs;
      for (const [caller, c] of Object.entries(data.data.callers ?? {})) {
        const key = `${caller}>${reply.name}`;
        let t = edges.get(key);
        if (t === undefined) {
          t = { calls: 0, errors: 0, boundsMs, counts: c.counts.map(() => 0) };
          edges.set(key, t);
        }
        t.calls += c.requests;
        t.errors += c.errors;
        if (sameBounds(t.boundsMs, boundsMs)) {
          for (let i = 0; i < c.counts.length; i++)
            t.counts[i] = (t.counts[i] ?? 0) + (c.counts[i] as number);
        }
      }
    }
  }
  return edges;
}

/** The edges of one refresh, as `rowsOf` does for endpoints. */
export function edgeRowsOf(now: EdgeSample, previous: EdgeSample | undefined, elapsedMs: number): EdgeRow[] {
  const rows: EdgeRow[] = [];
  for (const [key, t] of now) {
    const [caller = "", service = ""] = key.split(">");
    rows.push({
      caller,
      service,
      calls: t.calls,
      errors: t.errors,
      ...figures(t, previous?.get(key), previous !== undefined, elapsedMs),
    });
  }
  return rows.sort((a, b) => `${a.caller}>${a.service}`.localeCompare(`${b.caller}>${b.service}`));
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function roundOrNull(n: number | null): number | null {
  return n === null ? null : round(n, 3);
}
