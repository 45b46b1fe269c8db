import type { Clock } from "./clock.js";

const BUCKETS = 10;

/**
 * Counts over a sliding window of `windowMs`, in ten buckets: old buckets are cleared as time
 * moves on, so sums cover roughly the last window. `series` counters share one clock; `now` is
 * the caller's reading of it when it has one (a balanced call's settle: one clock read, not two).
 */
export class RollingWindow {
  readonly #clock: Clock;
  readonly #bucketMs: number;
  readonly #counts: Float64Array[];
  #epoch: number;

  constructor(windowMs: number, series: number, clock: Clock) {
    this.#clock = clock;
    this.#bucketMs = windowMs / BUCKETS;
    this.#counts = Array.from({ length: series }, () => new Float64Array(BUCKETS));
    this.#epoch = Math.floor(clock() / this.#bucketMs);
  }

  add(series: number, n = 1, now: number = this.#clock()): void {
    this.#advance(now);
    const counts = this.#counts[series] as Float64Array;
    const slot = this.#epoch % BUCKETS;
    counts[slot] = (counts[slot] ?? 0) + n;
  }

  sum(series: number, now: number = this.#clock()): number {
    this.#advance(now);
    let total = 0;
    for (const n of this.#counts[series] as Float64Array) total += n;
    return total;
  }

  clear(): void {
    for (const counts of this.#counts) counts.fill(0);
  }

  #advance(now: number): void {
    const epoch = Math.floor(now / this.#bucketMs);
    if (epoch === this.#epoch) return;
    // clear the buckets that fell out of the window since the last call
    const stale = Math.min(BUCKETS, epoch - this.#epoch);
    for (let i = 1; i <= stale; i++) {
      for (const counts of this.#counts) counts[(this.#epoch + i) % BUCKETS] = 0;
    }
    this.#epoch = epoch;
  }
}
