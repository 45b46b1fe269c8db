import { LATENCY_BOUNDS_MS, type MeshStatsResponse, MetadataKey } from "@switchyard/schemas";

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
  /** Instances calling processes have ejected from their balancing now (outlier ejection), summed. */
  ejected: number;
}

type BreakerCounts = EndpointRow["breakers"];

/**
 * One caller → callee edge, summed over the callee's endpoints and instances: the figures are what
 * the callee measured (its replies); `callerSide` is what the calling processes saw, failures the
 * callee never sees included (CIRCUIT_OPEN, a spent retry budget, a local deadline).
 */
export interface EdgeRow extends Figures {
  caller: string;
  service: string;
  calls: number;
  errors: number;
  /** Null when no calling process reports the edge (an older runtime, or one serving nothing). */
  callerSide: CallerSide | null;
}

/** An edge as its calling processes saw it: the same figures, failures by code, breakers. */
export interface CallerSideFigures extends Figures {
  calls: number;
  errors: number;
  /** Failed calls by code, over the same span as `successRate`. */
  failures: Record<string, number>;
  /** How many calling processes hold their breaker on the endpoint(s) in each state. */
  breakers: BreakerCounts;
}

/** The caller's view of an edge, and of each endpoint of the callee it calls. */
export interface CallerSide extends CallerSideFigures {
  endpoints: Array<CallerSideFigures & { endpoint: string }>;
}

/** One instance's counters: what two samples are compared by. */
interface Counts {
  calls: number;
  errors: number;
  counts: number[];
}

/**
 * Calls, errors and a latency histogram summed per endpoint (or per edge), and each instance's
 * own, so that an interval is the sum of per-instance differences: an instance that missed one
 * gather, joined or restarted does not turn into a spike or a negative count.
 */
interface Tally extends Counts {
  boundsMs: readonly number[];
  byInstance: Map<string, Counts>;
}

/** An endpoint's tally with the figures only endpoints have. */
interface Totals extends Tally {
  instances: number;
  inFlight: number;
  sheds: number;
  quotaDenied: number;
}

/** Tallies by "service/endpoint" (`sampleOf`) and by "caller>service" (`edgesOf`). */
export type Sample = Map<string, Totals>;
export type EdgeSample = Map<string, Tally>;

/** A caller-side tally: failures by code beside the counts, and breaker states. */
interface CallerTally extends Tally {
  failures: Record<string, number>;
  failuresByInstance: Map<string, Record<string, number>>;
  breakers: BreakerCounts;
}

/** Caller-side tallies by "caller>service" and by "caller>service/endpoint" (`callerSideOf`). */
export interface CallerSample {
  edges: Map<string, CallerTally>;
  endpoints: Map<string, CallerTally>;
}

function addInstance(
  t: Tally,
  id: string,
  calls: number,
  errors: number,
  counts: readonly number[] | undefined,
): void {
  t.calls += calls;
  t.errors += errors;
  const own = { calls, errors, counts: counts === undefined ? [] : [...counts] };
  for (let i = 0; i < own.counts.length; i++) t.counts[i] = (t.counts[i] ?? 0) + (own.counts[i] as number);
  const had = t.byInstance.get(id);
  // one process calling two endpoints of a service is one edge: add up
  if (had === undefined) t.byInstance.set(id, own);
  else {
    had.calls += own.calls;
    had.errors += own.errors;
    for (let i = 0; i < own.counts.length; i++)
      had.counts[i] = (had.counts[i] ?? 0) + (own.counts[i] as number);
  }
}

/**
 * Adds one instance's counts, with its latency histogram only when it buckets as the first one
 * did: instances of another runtime version may bucket differently, and their latencies are left
 * out.
 */
function addCounts(
  t: Tally,
  id: string,
  calls: number,
  errors: number,
  latency: { boundsMs: readonly number[]; counts: readonly number[] } | undefined,
): void {
  if (latency !== undefined && t.counts.length === 0) t.boundsMs = latency.boundsMs;
  const counts =
    latency !== undefined && sameBounds(t.boundsMs, latency.boundsMs) ? latency.counts : undefined;
  addInstance(t, id, calls, errors, counts);
}

const emptyTally = (): Tally => ({ calls: 0, errors: 0, boundsMs: [], counts: [], byInstance: new Map() });

/** Every endpoint of every STATS reply, with the reply it came from. */
function* endpointsOf(
  replies: readonly MeshStatsResponse[],
): Generator<[MeshStatsResponse, MeshStatsResponse["endpoints"][number]]> {
  for (const reply of replies) for (const e of reply.endpoints) yield [reply, e];
}

/** The tally under `key`, made by `make` the first time. */
function tallyAt<T extends Tally>(tallies: Map<string, T>, key: string, make: () => T): T {
  let t = tallies.get(key);
  if (t === undefined) {
    t = make();
    tallies.set(key, t);
  }
  return t;
}

/** Sums STATS replies per service/endpoint. Replies from other NATS micro services count too. */
export function sampleOf(replies: readonly MeshStatsResponse[]): Sample {
  const sample: Sample = new Map();
  const make = (): Totals => ({ ...emptyTally(), instances: 0, inFlight: 0, sheds: 0, quotaDenied: 0 });
  for (const [reply, e] of endpointsOf(replies)) {
    const t = tallyAt(sample, `${reply.name}/${e.name}`, make);
    t.instances++;
    const data = e.data;
    if (data !== undefined) {
      t.inFlight += data.inFlight;
      t.sheds += data.sheds;
      for (const byTenant of Object.values(data.quota ?? {})) t.quotaDenied += byTenant["denied"] ?? 0;
    }
    addCounts(t, reply.id, e.num_requests, e.num_errors, data?.latency);
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
export function breakersOf(replies: readonly MeshStatsResponse[]): Map<string, EndpointRow["breakers"]> {
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

/** Instances ejected now per target endpoint, summed over calling processes (each counted once). */
export function ejectionsOf(replies: readonly MeshStatsResponse[]): Map<string, number> {
  const seen = new Set<string>();
  const out = new Map<string, number>();
  for (const reply of replies) {
    if (seen.has(reply.id)) continue;
    seen.add(reply.id);
    for (const call of reply.mesh_calls ?? []) {
      if (call.ejected === undefined || call.ejected === 0) continue;
      const key = `${call.service}/${call.endpoint}`;
      out.set(key, (out.get(key) ?? 0) + call.ejected);
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

/** What happened between two samples: the sum of each instance's own difference. */
function intervalOf(t: Tally, before: Tally | undefined): Counts | undefined {
  if (before === undefined || !sameBounds(before.boundsMs, t.boundsMs)) return undefined;
  const sum: Counts = { calls: 0, errors: 0, counts: t.counts.map(() => 0) };
  for (const [id, now] of t.byInstance) {
    const was = before.byInstance.get(id);
    // new (or missing from the last gather), or restarted and counting from zero: no interval
    if (was === undefined || was.calls > now.calls) continue;
    sum.calls += now.calls - was.calls;
    sum.errors += Math.max(0, now.errors - was.errors);
    for (let i = 0; i < now.counts.length; i++) {
      sum.counts[i] = (sum.counts[i] ?? 0) + Math.max(0, (now.counts[i] as number) - (was.counts[i] ?? 0));
    }
  }
  return sum.calls > 0 ? sum : undefined;
}

function figures(t: Tally, before: Tally | undefined, hasPrevious: boolean, elapsedMs: number): Figures {
  const interval = intervalOf(t, before);
  const span = interval ?? t;
  return {
    callsPerSec:
      !hasPrevious || elapsedMs <= 0 || interval === undefined
        ? 0
        : round((interval.calls * 1_000) / elapsedMs),
    successRate: span.calls === 0 ? null : round((span.calls - span.errors) / span.calls, 4),
    p50Ms: roundOrNull(quantile(t.boundsMs, span.counts, 0.5)),
    p99Ms: roundOrNull(quantile(t.boundsMs, span.counts, 0.99)),
    window: interval === undefined ? "lifetime" : "interval",
  };
}

type Counted = { calls: number; errors: number } & Figures;

/** What a row shows of a key it has no tally for. */
const NOT_COUNTED: Readonly<Counted> = {
  calls: 0,
  errors: 0,
  callsPerSec: 0,
  successRate: null,
  p50Ms: null,
  p99Ms: null,
  window: "lifetime",
};

/**
 * A row per tally of `now`, then per key of `alsoKeys` that `now` lacks (no tally, nothing
 * counted), built by `row` from its key, the key's two names (split at `separator`), the tally,
 * and its calls, errors and figures against `previous`.
 */
function rowsFor<T extends Tally, R>(
  now: Map<string, T>,
  previous: Map<string, T> | undefined,
  elapsedMs: number,
  separator: string,
  alsoKeys: Iterable<string>,
  row: (key: string, names: [string, string], t: T | undefined, counted: Counted) => R,
): R[] {
  return [...new Set([...now.keys(), ...alsoKeys])].map((key) => {
    const [first = "", second = ""] = key.split(separator);
    const t = now.get(key);
    const counted =
      t === undefined
        ? NOT_COUNTED
        : {
            calls: t.calls,
            errors: t.errors,
            ...figures(t, previous?.get(key), previous !== undefined, elapsedMs),
          };
    return row(key, [first, second], t, counted);
  });
}

/** The rows of one refresh: `now` against the previous sample, `elapsedMs` apart. */
export function rowsOf(
  now: Sample,
  previous: Sample | undefined,
  elapsedMs: number,
  breakers: Map<string, EndpointRow["breakers"]>,
  ejections: ReadonlyMap<string, number> = new Map(),
): EndpointRow[] {
  // endpoints nobody serves any more still show the breakers their callers hold open
  const rows = rowsFor(
    now,
    previous,
    elapsedMs,
    "/",
    breakers.keys(),
    (key, [service, endpoint], t, counted) => ({
      service,
      endpoint,
      instances: t?.instances ?? 0,
      ...counted,
      inFlight: t?.inFlight ?? 0,
      sheds: t?.sheds ?? 0,
      quotaDenied: t?.quotaDenied ?? 0,
      breakers: breakers.get(key) ?? { closed: 0, "half-open": 0, open: 0 },
      ejected: ejections.get(key) ?? 0,
    }),
  );
  return rows.sort((a, b) => `${a.service}/${a.endpoint}`.localeCompare(`${b.service}/${b.endpoint}`));
}

/** Sums the callee-side per-caller tallies of STATS replies into caller → service edges. */
export function edgesOf(replies: readonly MeshStatsResponse[]): EdgeSample {
  const edges: EdgeSample = new Map();
  for (const [reply, e] of endpointsOf(replies)) {
    if (e.data === undefined) continue;
    const boundsMs = e.data.latency.boundsMs;
    for (const [caller, c] of Object.entries(e.data.callers ?? {})) {
      const t = tallyAt(edges, `${caller}>${reply.name}`, emptyTally);
      addCounts(t, reply.id, c.requests, c.errors, { boundsMs, counts: c.counts });
    }
  }
  return edges;
}

/**
 * Sums what calling processes report of their own calls (STATS `mesh_calls`) per caller → service
 * edge and per caller → endpoint, each process counted once. The caller is the process's mesh
 * name (the `Mesh-Caller` it sends), so the keys meet the callee-side ones of `edgesOf`.
 */
export function callerSideOf(replies: readonly MeshStatsResponse[]): CallerSample {
  const sample: CallerSample = { edges: new Map(), endpoints: new Map() };
  const make = (): CallerTally => ({
    ...emptyTally(),
    boundsMs: LATENCY_BOUNDS_MS,
    failures: {},
    failuresByInstance: new Map(),
    breakers: { closed: 0, "half-open": 0, open: 0 },
  });
  const seen = new Set<string>();
  for (const reply of replies) {
    // a process serving two services answers twice with the same id and the same calls
    if (seen.has(reply.id)) continue;
    seen.add(reply.id);
    const caller = reply.metadata?.[MetadataKey.Caller] ?? reply.name;
    for (const call of reply.mesh_calls ?? []) {
      const errors = Object.values(call.failures ?? {}).reduce((a, b) => a + b, 0);
      // counts bucketed otherwise (another runtime version) are left out, as for endpoints
      const counts = call.counts?.length === LATENCY_BOUNDS_MS.length + 1 ? call.counts : undefined;
      for (const key of [`${caller}>${call.service}`, `${caller}>${call.service}/${call.endpoint}`]) {
        const t = tallyAt(key.includes("/") ? sample.endpoints : sample.edges, key, make);
        t.breakers[call.breaker]++;
        if (call.calls === undefined) continue;
        addInstance(t, reply.id, call.calls, errors, counts);
        const own = t.failuresByInstance.get(reply.id) ?? {};
        for (const [code, n] of Object.entries(call.failures ?? {})) {
          t.failures[code] = (t.failures[code] ?? 0) + n;
          own[code] = (own[code] ?? 0) + n;
        }
        t.failuresByInstance.set(reply.id, own);
      }
    }
  }
  return sample;
}

/** Failures by code over the interval `figures` used (per instance, as `intervalOf`), else lifetime. */
function failuresOver(t: CallerTally, before: CallerTally | undefined, window: Figures["window"]) {
  if (window === "lifetime" || before === undefined) return { ...t.failures };
  const out: Record<string, number> = {};
  for (const [id, now] of t.failuresByInstance) {
    const was = before.byInstance.get(id);
    const wasFailures = before.failuresByInstance.get(id);
    const calls = t.byInstance.get(id)?.calls ?? 0;
    if (was === undefined || wasFailures === undefined || was.calls > calls) continue;
    for (const [code, n] of Object.entries(now)) {
      const d = n - (wasFailures[code] ?? 0);
      if (d > 0) out[code] = (out[code] ?? 0) + d;
    }
  }
  return out;
}

function callerFigures(
  t: CallerTally,
  before: CallerTally | undefined,
  hasPrevious: boolean,
  elapsedMs: number,
): CallerSideFigures {
  const f = figures(t, before, hasPrevious, elapsedMs);
  return {
    calls: t.calls,
    errors: t.errors,
    ...f,
    failures: failuresOver(t, before, f.window),
    breakers: { ...t.breakers },
  };
}

/** The caller's side of the edge `key` ("caller>service"), with its endpoints. */
function callerSideRow(
  key: string,
  now: CallerSample,
  previous: CallerSample | undefined,
  elapsedMs: number,
): CallerSide | null {
  const t = now.edges.get(key);
  if (t === undefined) return null;
  const has = previous !== undefined;
  const endpoints = [...now.endpoints]
    .filter(([k]) => k.startsWith(`${key}/`))
    .map(([k, e]) => ({
      endpoint: k.slice(key.length + 1),
      ...callerFigures(e, previous?.endpoints.get(k), has, elapsedMs),
    }))
    .sort((a, b) => a.endpoint.localeCompare(b.endpoint));
  return { ...callerFigures(t, previous?.edges.get(key), has, elapsedMs), endpoints };
}

/**
 * The edges of one refresh, as `rowsOf` does for endpoints: the callee's figures, and the
 * callers' (`callerSide`) when given. An edge only the caller reports (every call failed before
 * reaching the callee, or the callee is gone) is a row too, with no callee figures.
 */
export function edgeRowsOf(
  now: EdgeSample,
  previous: EdgeSample | undefined,
  elapsedMs: number,
  callerNow?: CallerSample,
  callerPrevious?: CallerSample,
): EdgeRow[] {
  const side = (key: string) =>
    callerNow === undefined ? null : callerSideRow(key, callerNow, callerPrevious, elapsedMs);
  const callerKeys = callerNow?.edges.keys() ?? [];
  const rows = rowsFor(now, previous, elapsedMs, ">", callerKeys, (key, [caller, service], _t, counted) => ({
    caller,
    service,
    ...counted,
    callerSide: side(key),
  }));
  return rows.sort((a, b) => `${a.caller}>${a.service}`.localeCompare(`${b.caller}>${b.service}`));
}

/** One gather of STATS replies, as the next refresh compares against it. */
export interface StatsReading {
  readonly sample: Sample;
  readonly breakers: Map<string, EndpointRow["breakers"]>;
  readonly ejections: Map<string, number>;
  readonly edges: EdgeSample;
  readonly callers: CallerSample;
  /** Monotonic ms (`performance.now()`). */
  readonly at: number;
}

/** What `replies`, gathered at `at` (monotonic ms), say. */
export function readingOf(replies: readonly MeshStatsResponse[], at: number): StatsReading {
  return {
    sample: sampleOf(replies),
    breakers: breakersOf(replies),
    ejections: ejectionsOf(replies),
    edges: edgesOf(replies),
    callers: callerSideOf(replies),
    at,
  };
}

/** The endpoint and edge rows of `now` against `previous`; without one, no rates yet. */
export function refreshOf(
  now: StatsReading,
  previous: StatsReading | undefined,
): { endpoints: EndpointRow[]; edges: EdgeRow[] } {
  const elapsedMs = previous === undefined ? 0 : now.at - previous.at;
  return {
    endpoints: rowsOf(now.sample, previous?.sample, elapsedMs, now.breakers, now.ejections),
    edges: edgeRowsOf(now.edges, previous?.edges, elapsedMs, now.callers, previous?.callers),
  };
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function roundOrNull(n: number | null): number | null {
  return n === null ? null : round(n, 3);
}
