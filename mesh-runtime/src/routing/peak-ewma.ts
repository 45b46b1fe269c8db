/**
 * How long a latency sample keeps weight: after this long it counts e^-1 as much. Finagle and
 * Linkerd default to 10 s; the balance bench measured 1 s better: a stall of the caller's own
 * process (GC, a busy host) inflates every instance's average at once, and with 10 s the healthy
 * ones stay inflated long enough for a slow instance to look as cheap and take over 1% of calls.
 */
export const DECAY_MS = 1_000;

/**
 * The cost of an instance nobody has measured yet while one request to it is in flight: so large
 * that it gets no second request before the first answers (Finagle's penalty), yet finite, so it
 * still ranks by its requests in flight.
 */
const UNMEASURED_PENALTY = 1e6;

/** Below this many decay periods `decay` sums the series; above, it asks `Math.exp`. */
const SERIES_MAX = 1 / 64;

/**
 * e^-x for x ≥ 0. Nearly every read comes within milliseconds of the instance's last sample (x
 * under 1/64 with a 1 s decay), where five terms of the series are exact to 1e-11 of the value
 * (the first term left out, x⁵/120, is below 8e-12) for a few multiplications instead of a call
 * to `Math.exp`: a balanced call decays three averages (the pick's two costs, the settle's blend).
 */
export function decay(x: number): number {
  if (x > SERIES_MAX) return Math.exp(-x);
  return 1 - x * (1 - x * (0.5 - x * (1 / 6 - x / 24)));
}

/**
 * Peak-EWMA of one instance's latency (Finagle/Linkerd P2C-EWMA, Envoy Peak-EWMA): a sample above
 * the average replaces it at once (slowness is believed immediately), a lower one is blended in
 * by the time since the last sample. The average also decays toward zero while nothing is measured,
 * so an instance that was slow gets a probe now and then instead of being starved for ever.
 * `cost` weighs it by the requests in flight: the quantity power-of-two-choices compares.
 */
export class PeakEwma {
  readonly #decayMs: number;
  #ewmaMs = 0;
  #stampMs: number;
  #inFlight = 0;

  constructor(nowMs: number, decayMs = DECAY_MS) {
    this.#decayMs = decayMs;
    this.#stampMs = nowMs;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The decayed average as of `nowMs`, ms; 0 while unmeasured. */
  latencyMs(nowMs: number): number {
    return this.#ewmaMs * decay(Math.max(0, nowMs - this.#stampMs) / this.#decayMs);
  }

  /** Lower is better: latency × (in flight + 1). */
  cost(nowMs: number): number {
    const latency = this.latencyMs(nowMs);
    if (latency === 0) return this.#inFlight === 0 ? 0 : UNMEASURED_PENALTY + this.#inFlight;
    return latency * (this.#inFlight + 1);
  }

  /** A request to the instance left. */
  start(): void {
    this.#inFlight++;
  }

  /** A request settled after `sampleMs`; `undefined` for one that says nothing of latency (aborted). */
  end(nowMs: number, sampleMs: number | undefined): void {
    if (this.#inFlight > 0) this.#inFlight--;
    if (sampleMs === undefined) return;
    // the decay since the last sample: of the average as it stands now, and the blend's weight
    const w = decay(Math.max(0, nowMs - this.#stampMs) / this.#decayMs);
    if (sampleMs > this.#ewmaMs * w) {
      this.#ewmaMs = sampleMs;
    } else {
      // blended with the average as it was measured: the decay toward zero is only for the idle
      this.#ewmaMs = this.#ewmaMs * w + sampleMs * (1 - w);
    }
    this.#stampMs = nowMs;
  }
}
