import type {
  BalanceMode,
  BreakerPolicy,
  CallSettings,
  ConcurrencyPolicy,
  HedgePolicy,
  OutlierPolicy,
  RetryPolicy,
} from "@switchyard/schemas";
import type { z } from "zod";

type Given<T> = { readonly [K in keyof T]-?: Exclude<T[K], undefined> };
type Retry = z.output<typeof RetryPolicy>;

/** Call settings with every field given: what one call or served request runs with. */
export interface EffectiveSettings {
  readonly timeoutMs: number;
  /** Undefined: an attempt may use the whole deadline. */
  readonly attemptTimeoutMs: number | undefined;
  readonly idempotent: boolean;
  readonly retry: {
    readonly maxAttempts: number;
    readonly backoff: Given<NonNullable<Retry["backoff"]>>;
    readonly budget: Given<NonNullable<Retry["budget"]>>;
  };
  readonly breaker: Given<z.output<typeof BreakerPolicy>>;
  readonly concurrency: Given<z.output<typeof ConcurrencyPolicy>>;
  readonly balance: BalanceMode;
  /** `max` 0: no hedging. Applies to idempotent calls only. */
  readonly hedge: z.output<typeof HedgePolicy>;
  readonly outlier: Given<z.output<typeof OutlierPolicy>>;
  /** Largest request body accepted; undefined: only the server's `max_payload`. */
  readonly maxRequestBytes: number | undefined;
}

/** `base` with the fields `over` sets; absent fields keep the base's value. */
function merge<T extends object>(base: T, over: Partial<T> | undefined): T {
  if (over === undefined) return base;
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * One level of call settings over another (mesh options over the defaults, a service over the
 * policy's defaults...). Fields are overlaid one by one; `retry.backoff` and `retry.budget`, whose
 * fields the schema requires together, replace the level below as a whole, as does `hedge`.
 */
export function overlaySettings(base: EffectiveSettings, s: CallSettings | undefined): EffectiveSettings {
  if (s === undefined) return base;
  return {
    timeoutMs: s.timeoutMs ?? base.timeoutMs,
    attemptTimeoutMs: s.attemptTimeoutMs ?? base.attemptTimeoutMs,
    idempotent: s.idempotent ?? base.idempotent,
    retry:
      s.retry === undefined
        ? base.retry
        : {
            maxAttempts: s.retry.maxAttempts ?? base.retry.maxAttempts,
            backoff: s.retry.backoff ?? base.retry.backoff,
            budget: s.retry.budget ?? base.retry.budget,
          },
    breaker: merge(base.breaker, s.breaker),
    concurrency: merge(base.concurrency, s.concurrency),
    balance: s.balance ?? base.balance,
    // both fields required together: a level's hedge replaces the one below
    hedge: s.hedge ?? base.hedge,
    outlier: merge(base.outlier, s.outlier),
    maxRequestBytes: s.maxRequestBytes ?? base.maxRequestBytes,
  };
}
