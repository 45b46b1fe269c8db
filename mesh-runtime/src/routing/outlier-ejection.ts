import type { EffectiveSettings } from "../policy/resolved-settings.js";
import type { Clock } from "../resilience/clock.js";
import { RollingWindow } from "../resilience/rolling-window.js";

export type OutlierSettings = EffectiveSettings["outlier"];

const CALLS = 0;
const FAILURES = 1;
/** Ejections in a row lengthen the next one up to this many times `ejectMs`. */
const MAX_EJECT_MULTIPLE = 10;
/** Admitted this many windows without an ejection, an instance's record is clean again. */
const FORGIVE_WINDOWS = 10;

/**
 * How many of `total` instances may be ejected at once: `share` of them, rounded down, but at
 * least one when there are two or more (Envoy's rule) and never the last one.
 */
export function ejectionAllowance(total: number, share: number): number {
  if (total < 2) return 0;
  return Math.min(total - 1, Math.max(1, Math.floor(total * share)));
}

/**
 * One instance's health as one caller sees it: calls and callee-blamed failures over a sliding
 * window, and its ejection. Failures the caller or its tenant caused (a bad input, a quota) never
 * count: they say nothing about the instance.
 */
export class OutlierState {
  readonly #clock: Clock;
  #window: RollingWindow;
  #windowMs: number;
  #ejectedUntil = 0;
  #ejections = 0;
  #admittedAt: number;

  constructor(windowMs: number, clock: Clock) {
    this.#clock = clock;
    this.#windowMs = windowMs;
    this.#window = new RollingWindow(windowMs, 2, clock);
    this.#admittedAt = clock();
  }

  /** Ejected now; an ejection that has run out ends here (the instance is readmitted). */
  get ejected(): boolean {
    if (this.#ejectedUntil === 0) return false;
    if (this.#clock() < this.#ejectedUntil) return true;
    this.#ejectedUntil = 0;
    this.#admittedAt = this.#clock();
    // a fresh start: the failures that ejected it are history
    this.#window.clear();
    return false;
  }

  /** Ejections in a row, the current one included. */
  get ejections(): number {
    return this.#ejections;
  }

  /** Counts one settled call at `now` (monotonic ms); true when the instance should now be ejected. */
  record(calleeFailure: boolean, settings: OutlierSettings, now: number = this.#clock()): boolean {
    if (settings.windowMs !== this.#windowMs) {
      this.#windowMs = settings.windowMs;
      this.#window = new RollingWindow(settings.windowMs, 2, this.#clock);
    }
    // reading `ejected` readmits an instance whose ejection has run out, with an empty window
    const ejected = this.ejected;
    this.#window.add(CALLS, 1, now);
    if (calleeFailure) this.#window.add(FAILURES, 1, now);
    if (!settings.enabled || !calleeFailure || ejected) return false;
    const calls = this.#window.sum(CALLS, now);
    return calls >= settings.minimumCalls && this.#window.sum(FAILURES, now) / calls >= settings.failureRatio;
  }

  /** Ejects it for `ejectMs` times its ejections in a row (capped); returns the length, ms. */
  eject(settings: OutlierSettings): number {
    const now = this.#clock();
    if (now - this.#admittedAt > FORGIVE_WINDOWS * settings.windowMs) this.#ejections = 0;
    this.#ejections++;
    const forMs = settings.ejectMs * Math.min(this.#ejections, MAX_EJECT_MULTIPLE);
    this.#ejectedUntil = now + forMs;
    return forMs;
  }
}
