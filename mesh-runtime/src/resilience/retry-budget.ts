import type { RetryBudgetSettings } from "@switchyard/schemas";
import { type Clock, monotonicNow } from "./clock.js";
import { RollingWindow } from "./rolling-window.js";

/** The window's two counters. */
const Slot = { requests: 0, retries: 1 } as const;

/**
 * A retry budget over a sliding window (Finagle's idea): retries may be at most
 * `ratio` × requests + `minPerSecond` × window seconds. During an outage every call fails, so
 * retries stay a bounded share of traffic instead of multiplying it.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #floor: number;
  readonly #window: RollingWindow;

  constructor(options: RetryBudgetSettings, clock: Clock = monotonicNow) {
    this.#ratio = options.ratio;
    this.#floor = (options.minPerSecond * options.windowMs) / 1000;
    this.#window = new RollingWindow(options.windowMs, 2, clock);
  }

  /** Counts one logical call (its first attempt). */
  recordRequest(): void {
    this.#window.add(Slot.requests);
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryRetry(): boolean {
    const allowed = this.#ratio * this.#window.sum(Slot.requests) + this.#floor;
    if (this.#window.sum(Slot.retries) + 1 > allowed) return false;
    this.#window.add(Slot.retries);
    return true;
  }
}
