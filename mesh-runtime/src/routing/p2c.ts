/**
 * Power of two choices (Mitzenmacher): of two distinct random candidates, the one of lower cost.
 * Nearly as good as the best of all, without scanning them or herding every caller onto the same
 * one. One candidate is returned as is; none gives undefined. `cost` is asked as of `at` (passed
 * through, so a caller needs no closure per pick); `random` in [0, 1).
 */
export function pickOfTwo<T>(
  candidates: readonly T[],
  cost: (candidate: T, at: number) => number,
  at = 0,
  random: () => number = Math.random,
): T | undefined {
  const n = candidates.length;
  if (n <= 1) return candidates[0];
  const i = Math.floor(random() * n);
  // a second index drawn from the other n - 1: always distinct from the first
  let j = Math.floor(random() * (n - 1));
  if (j >= i) j++;
  const a = candidates[i] as T;
  const b = candidates[j] as T;
  const ca = cost(a, at);
  const cb = cost(b, at);
  if (ca !== cb) return ca < cb ? a : b;
  return random() < 0.5 ? a : b;
}
