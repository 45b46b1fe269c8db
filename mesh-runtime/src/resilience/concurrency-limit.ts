import type { Criticality } from "@switchyard/schemas";

export interface LimitOptions {
  readonly mode: "fixed" | "adaptive";
  /** The fixed limit, or where the adaptive one starts. */
  readonly limit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
}

/** Below this share of the limit sheddable requests are admitted; above it they go first. */
const SHEDDABLE_SHARE = 0.8;
/** Room above the limit that only critical requests may use. */
const CRITICAL_RESERVE_SHARE = 0.1;
/** Room above a level's threshold for a tenant within its fair share (the hard cap). */
const FAIR_SHARE_ROOM = 0.25;
/** Buckets kept while they hold no slot; past this many, the idle ones are forgotten. */
const MAX_IDLE_BUCKETS = 1_024;

interface Bucket {
  inFlight: number;
  weight: number;
}

/**
 * In-flight requests per endpoint on one instance. Past the limit a request is shed at once
 * (OVERLOADED, before any work), so the caller's retry goes to another instance.
 *
 * Shedding is fair and ordered by criticality (Google SRE book, "Handling Overload"). Each request
 * belongs to a bucket (its tenant) with a weight; a bucket's fair share is the limit split among
 * the buckets holding slots, in proportion to their weights. Sheddable requests are refused above
 * 80% of the limit, default ones above the limit, critical ones above a 10% reserve beyond it. Past
 * its level's threshold a non-sheddable request is still admitted while its bucket holds fewer
 * slots than its fair share, up to a hard cap 25% of the limit higher: so once saturated, only the
 * tenants above their share are shed, and a tenant within its share is served at once rather than
 * after the others' requests drain.
 *
 * The adaptive mode follows TCP Vegas, as Netflix's concurrency-limits does: with `minRtt` the
 * latency of an unloaded instance, `queue = limit × (1 − minRtt / rtt)` estimates how many requests
 * wait rather than work. Below `alpha` the limit grows by one, above `beta` it shrinks by one, so it
 * settles where latency starts to rise with load: the knee. Pure: samples come in as numbers.
 */
export class ConcurrencyLimit {
  readonly #o: LimitOptions;
  #limit: number;
  #inFlight = 0;
  #minRttMs = Number.POSITIVE_INFINITY;
  #samples = 0;
  readonly #buckets = new Map<string, Bucket>();
  /** Sum of the weights of the buckets holding slots. */
  #activeWeight = 0;

  constructor(options: LimitOptions) {
    this.#o = options;
    this.#limit = Math.min(options.maxLimit, Math.max(options.minLimit, options.limit));
  }

  get limit(): number {
    return Math.floor(this.#limit);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Slots `bucket` holds now. */
  inFlightOf(bucket: string): number {
    return this.#buckets.get(bucket)?.inFlight ?? 0;
  }

  /**
   * Takes a slot for a request of `bucket` (its tenant) with `weight` (> 0, its plan's) and
   * `criticality`; false means shed the request.
   */
  tryAcquire(bucket = "", weight = 1, criticality: Criticality = "default"): boolean {
    const limit = Math.floor(this.#limit);
    const threshold =
      criticality === "sheddable"
        ? Math.max(1, Math.floor(limit * SHEDDABLE_SHARE))
        : criticality === "critical"
          ? limit + Math.max(1, Math.ceil(limit * CRITICAL_RESERVE_SHARE))
          : limit;
    let b = this.#buckets.get(bucket);
    const held = b?.inFlight ?? 0;
    if (this.#inFlight >= threshold) {
      if (criticality === "sheddable") return false;
      if (this.#inFlight >= threshold + Math.max(1, Math.ceil(limit * FAIR_SHARE_ROOM))) return false;
      const totalWeight = this.#activeWeight + weight - (held > 0 ? (b as Bucket).weight : 0);
      if (held >= (limit * weight) / totalWeight) return false;
    }
    if (b === undefined) {
      if (this.#buckets.size >= MAX_IDLE_BUCKETS) this.#forgetIdle();
      b = { inFlight: 0, weight };
      this.#buckets.set(bucket, b);
    }
    if (held === 0) {
      b.weight = weight;
      this.#activeWeight += weight;
    } else if (b.weight !== weight) {
      // the policy changed the plan's weight: the newest request's counts
      this.#activeWeight += weight - b.weight;
      b.weight = weight;
    }
    b.inFlight++;
    this.#inFlight++;
    return true;
  }

  /** Forgets the buckets holding no slot (a policy that listed many tenants over time). */
  #forgetIdle(): void {
    for (const [name, b] of this.#buckets) if (b.inFlight === 0) this.#buckets.delete(name);
  }

  /** Gives `bucket`'s slot back with how long the request took (only successes are latency samples). */
  release(rttMs: number, sample: boolean, bucket = ""): void {
    this.#inFlight--;
    const b = this.#buckets.get(bucket);
    // an idle bucket stays, so a bucket does not cost a Map insert and delete per request (the
    // churn `slot-table.ts` describes) where requests come one at a time
    if (b !== undefined && b.inFlight > 0 && --b.inFlight === 0) this.#activeWeight -= b.weight;
    if (this.#o.mode !== "adaptive" || !sample) return;
    // now and then forget the unloaded latency and back off, so that it is measured again at a
    // lower load: a service that became slower for good must not be throttled to its minimum
    if (++this.#samples % 1_000 === 0) {
      this.#minRttMs = rttMs;
      this.#limit = Math.max(this.#o.minLimit, this.#limit / 2);
      return;
    }
    if (rttMs < this.#minRttMs) this.#minRttMs = rttMs;
    const limit = this.#limit;
    const queue = limit * (1 - this.#minRttMs / Math.max(rttMs, this.#minRttMs));
    const log = Math.max(1, Math.log10(limit));
    const alpha = 3 * log;
    const beta = 6 * log;
    let next = limit;
    if (queue < alpha) next = limit + log / limit + (this.#inFlight + 1 >= limit ? 1 : 0);
    else if (queue > beta) next = limit - log;
    this.#limit = Math.min(this.#o.maxLimit, Math.max(this.#o.minLimit, next));
  }
}
