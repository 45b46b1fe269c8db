import { monotonicNow } from "./clock.js";

/**
 * The deadline of a call: the smaller of the caller's own budget and what is left of its parent's.
 * All values are monotonic ms (`performance.now()`).
 */
export function deriveDeadline(now: number, timeoutMs: number, parentDeadline?: number): number {
  const own = now + timeoutMs;
  return parentDeadline === undefined ? own : Math.min(own, parentDeadline);
}

/** Whole ms left until `deadline`, never negative: what `Mesh-Timeout` carries. */
export function remainingMs(deadline: number, now: number = monotonicNow()): number {
  const left = Math.floor(deadline - now);
  return Math.max(left, 0);
}

/** Converts a monotonic deadline to epoch ms, for people and logs. */
export function toEpochMs(deadline: number): number {
  return Math.round(performance.timeOrigin + deadline);
}
