import { type Clock, monotonicNow } from "./clock.js";

export interface BreakerOptions {
  /** Share of failed calls in the window that opens the breaker. */
  readonly failureRatio: number;
  /** Calls in the window before the ratio counts. */
  readonly minimumCalls: number;
  readonly windowMs: number;
  /** How long the breaker stays open before probes may go through. */
  readonly openMs: number;
  /** Probes allowed at once while half-open; that many successes close it. */
  readonly halfOpenProbes: number;
}

export type BreakerState = "closed" | "open" | "half-open";

/** What a caller may do now: go ahead, go ahead as a probe, or fail fast. */
export type Permit = "pass" | "probe" | "reject";

const BUCKETS = 10;

/**
 * A circuit breaker (closed → open → half-open → closed) over a rolling window of call outcomes.
 * Pure: time comes from `clock`, state changes go to `onChange` (telemetry subscribes; the breaker
 * never logs).
 */
export class CircuitBreaker {
  readonly #o: BreakerOptions;
  readonly #clock: Clock;
  readonly #onChange: ((state: BreakerState) => void) | undefined;
  readonly #calls = new Float64Array(BUCKETS);
  readonly #failures = new Float64Array(BUCKETS);
  readonly #bucketMs: number;
  #epoch: number;
  #state: BreakerState = "closed";
  #openedAt = 0;
  #probes = 0;
  #probeSuccesses = 0;

  constructor(
    options: BreakerOptions,
    onChange?: (state: BreakerState) => void,
    clock: Clock = monotonicNow,
  ) {
    this.#o = options;
    this.#clock = clock;
    this.#onChange = onChange;
    this.#bucketMs = options.windowMs / BUCKETS;
    this.#epoch = Math.floor(clock() / this.#bucketMs);
  }

  get state(): BreakerState {
    return this.#state;
  }

  acquire(): Permit {
    if (this.#state === "closed") return "pass";
    if (this.#state === "open") {
      if (this.#clock() - this.#openedAt < this.#o.openMs) return "reject";
      this.#set("half-open");
      this.#probes = 0;
      this.#probeSuccesses = 0;
    }
    if (this.#probes >= this.#o.halfOpenProbes) return "reject";
    this.#probes++;
    return "probe";
  }

  /** The outcome of a call that `acquire` let through; `failed` only for failures of the callee. */
  record(permit: Exclude<Permit, "reject">, failed: boolean): void {
    if (permit === "probe") {
      if (this.#state !== "half-open") return;
      if (failed) {
        this.#open();
      } else if (++this.#probeSuccesses >= this.#o.halfOpenProbes) {
        this.#reset();
        this.#set("closed");
      } else {
        this.#probes--; // a finished probe makes room for the next
      }
      return;
    }
    if (this.#state !== "closed") return;
    this.#advance();
    const slot = this.#epoch % BUCKETS;
    this.#calls[slot] = (this.#calls[slot] ?? 0) + 1;
    if (failed) this.#failures[slot] = (this.#failures[slot] ?? 0) + 1;
    if (!failed) return;
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.#calls[i] ?? 0;
      failures += this.#failures[i] ?? 0;
    }
    if (calls >= this.#o.minimumCalls && failures / calls >= this.#o.failureRatio) this.#open();
  }

  /** A call that ended without a verdict (cancelled): frees its probe slot, records nothing. */
  release(permit: Exclude<Permit, "reject">): void {
    if (permit === "probe" && this.#state === "half-open" && this.#probes > 0) this.#probes--;
  }

  #open(): void {
    this.#openedAt = this.#clock();
    this.#reset();
    this.#set("open");
  }

  #reset(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
  }

  #set(state: BreakerState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#onChange?.(state);
  }

  #advance(): void {
    const epoch = Math.floor(this.#clock() / this.#bucketMs);
    if (epoch === this.#epoch) return;
    const stale = Math.min(BUCKETS, epoch - this.#epoch);
    for (let i = 1; i <= stale; i++) {
      const slot = (this.#epoch + i) % BUCKETS;
      this.#calls[slot] = 0;
      this.#failures[slot] = 0;
    }
    this.#epoch = epoch;
  }
}
