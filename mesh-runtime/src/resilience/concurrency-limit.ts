export interface LimitOptions {
  readonly mode: "fixed" | "adaptive";
  /** The fixed limit, or where the adaptive one starts. */
  readonly limit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
}

/**
 * In-flight requests per endpoint on one instance. Past the limit a request is shed at once
 * (OVERLOADED, before any work), so the caller's retry goes to another instance.
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

  /** Takes a slot; false means shed the request. */
  tryAcquire(): boolean {
    if (this.#inFlight >= Math.floor(this.#limit)) return false;
    this.#inFlight++;
    return true;
  }

  /** Gives the slot back with how long the request took (only successes are latency samples). */
  release(rttMs: number, sample: boolean): void {
    this.#inFlight--;
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
