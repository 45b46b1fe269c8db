/**
 * Full-jitter exponential backoff: uniform in [0, min(maxMs, baseMs * 2^(retry-1))].
 * `retry` is 1 for the first retry. Pure; `random` is injectable for tests.
 */
export function fullJitterDelayMs(
  retry: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return random() * ceiling;
}
