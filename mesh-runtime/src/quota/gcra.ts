/**
 * GCRA (the generic cell rate algorithm) for one bucket: a token every `intervalUs`, at most
 * `depth` tokens at once. State is one number, the theoretical arrival time (TAT): when the bucket
 * would be full again. The Lua script in `gcra-script.ts` is the same arithmetic, run in Redis.
 */
export interface GcraParams {
  /** Microseconds per token: period ÷ rate. */
  readonly intervalUs: number;
  /** Tokens an idle tenant may spend at once (the burst). */
  readonly depth: number;
}

export interface GcraDecision {
  readonly allowed: boolean;
  /** The TAT to store (unchanged when denied). */
  readonly tat: number;
  /** Microseconds until `cost` tokens would be allowed; 0 when allowed. */
  readonly retryAfterUs: number;
  /** Whole tokens still available now, after this decision. */
  readonly remaining: number;
}

export function gcra(
  storedTat: number | undefined,
  nowUs: number,
  cost: number,
  p: GcraParams,
): GcraDecision {
  const base = storedTat === undefined || storedTat < nowUs ? nowUs : storedTat;
  const newTat = base + cost * p.intervalUs;
  const allowAt = newTat - p.depth * p.intervalUs;
  if (allowAt > nowUs) {
    const remaining = Math.max(0, Math.floor((nowUs - (base - p.depth * p.intervalUs)) / p.intervalUs));
    return { allowed: false, tat: base, retryAfterUs: allowAt - nowUs, remaining };
  }
  return {
    allowed: true,
    tat: newTat,
    retryAfterUs: 0,
    remaining: Math.floor((nowUs - allowAt) / p.intervalUs),
  };
}

/** The exact allowance of a bucket over `durationUs` from idle: the burst, then the rate. */
export function allowance(durationUs: number, p: GcraParams): number {
  return p.depth + Math.floor(durationUs / p.intervalUs);
}
