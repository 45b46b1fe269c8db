import { type Clock, monotonicNow } from "./clock.js";

export interface RetryBudgetOptions {
  /** Retries allowed as a share of requests in the window (0.2 = one retry per five calls). */
  readonly ratio: number;
  /** Retries always allowed per second, so a quiet caller can still retry. */
  readonly minPerSecond: number;
  /** How far back requests and retries count, in ms. */
  readonly windowMs: number;
}

const BUCKETS = 10;

/**
 * A retry budget over a sliding window (Finagle's idea): retries may be at most
 * `ratio` × requests + `minPerSecond` × window seconds. During an outage every call fails, so
 * retries stay a bounded share of traffic instead of multiplying it.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #floor: number;
  readonly #bucketMs: number;
  readonly #clock: Clock;
  readonly #requests = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #epoch = 0;

  constructor(options: RetryBudgetOptions, clock: Clock = monotonicNow) {
    this.#ratio = options.ratio;
    this.#floor = (options.minPerSecond * options.windowMs) / 1000;
    this.#bucketMs = options.windowMs / BUCKETS;
    this.#clock = clock;
    this.#epoch = Math.floor(clock() / this.#bucketMs);
  }

  /** Counts one logical call (its first attempt). */
  recordRequest(): void {
    this.#advance();
    const slot = this.#epoch % BUCKETS;
    this.#requests[slot] = (this.#requests[slot] ?? 0) + 1;
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryRetry(): boolean {
    this.#advance();
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      requests += this.#requests[i] ?? 0;
      retries += this.#retries[i] ?? 0;
    }
    if (retries + 1 > this.#ratio * requests + this.#floor) return false;
    const slot = this.#epoch % BUCKETS;
    this.#retries[slot] = (this.#retries[slot] ?? 0) + 1;
    return true;
  }

  #advance(): void {
    const epoch = Math.floor(this.#clock() / this.#bucketMs);
    if (epoch === this.#epoch) return;
    // clear the buckets that fell out of the window since the last call
    const stale = Math.min(BUCKETS, epoch - this.#epoch);
    for (let i = 1; i <= stale; i++) {
      const slot = (this.#epoch + i) % BUCKETS;
      this.#requests[slot] = 0;
      this.#retries[slot] = 0;
    }
    this.#epoch = epoch;
  }
}
