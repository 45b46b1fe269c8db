import { type Clock, monotonicNow } from "./clock.js";
import { RollingWindow } from "./rolling-window.js";

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

const CALLS = 0;
const FAILURES = 1;

/**
 * A circuit breaker (closed → open → half-open → closed) over a rolling window of call outcomes.
 * Pure: time comes from `clock`, state changes go to `onChange` (telemetry subscribes; the breaker
 * never logs).
 */
export class CircuitBreaker {
  readonly #o: BreakerOptions;
  readonly #clock: Clock;
  readonly #onChange: ((state: BreakerState) => void) | undefined;
  readonly #window: RollingWindow;
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
    this.#window = new RollingWindow(options.windowMs, 2, clock);
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
    this.#window.add(CALLS);
    if (!failed) return;
    this.#window.add(FAILURES);
    const calls = this.#window.sum(CALLS);
    if (calls >= this.#o.minimumCalls && this.#window.sum(FAILURES) / calls >= this.#o.failureRatio)
      this.#open();
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
    this.#window.clear();
  }

  #set(state: BreakerState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#onChange?.(state);
  }
}
