/** Monotonic milliseconds; deadlines are compared on this clock, never on wall time. */
export type Clock = () => number;

export const monotonicNow: Clock = () => performance.now();
