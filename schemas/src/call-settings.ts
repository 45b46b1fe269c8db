import { z } from "zod";

// The settings of a call, one schema for the policy (defaults, services, endpoints, plans) and
// the mesh options' `calls`: one set of names and bounds. Every field is optional here; the
// runtime's defaults fill the gaps (mesh-runtime/src/options.ts). docs/POLICY.md is the reference.

/** No call waits longer: a mesh call is a request/reply, not a job (callees cap budgets the same). */
export const MAX_CALL_TIMEOUT_MS = 300_000;
const CallMillis = z.number().int().positive().max(MAX_CALL_TIMEOUT_MS);
const Millis = z.number().int().positive().max(3_600_000);

export const RetryPolicy = z
  .strictObject({
    /** Attempts per logical call, the first included. */
    maxAttempts: z.number().int().min(1).max(20).optional(),
    backoff: z
      .strictObject({
        /** Ceiling of the first retry's full-jitter delay; doubles per retry. */
        baseMs: z.number().int().min(0).max(60_000),
        maxMs: z.number().int().min(0).max(60_000),
      })
      .refine((b) => b.baseMs <= b.maxMs, { message: "baseMs must not exceed maxMs", path: ["baseMs"] })
      .optional(),
    budget: z
      .strictObject({
        /** Retries as a share of calls over the window. */
        ratio: z.number().min(0).max(10),
        /** Retries always allowed per second. */
        minPerSecond: z.number().min(0).max(10_000),
        windowMs: z.number().int().min(1_000).max(600_000),
      })
      .optional(),
  })
  .describe("Retries of a call; only safe ones happen (see docs/ERRORS.md)");

export const BreakerPolicy = z.strictObject({
  enabled: z.boolean().optional(),
  /** Share of failed calls in the window that opens the breaker. */
  failureRatio: z.number().gt(0).max(1).optional(),
  /** Calls in the window before the ratio counts. */
  minimumCalls: z.number().int().min(1).max(100_000).optional(),
  /** At least 100 ms: the window has 10 buckets, and a shorter one counts nothing. */
  windowMs: z.number().int().min(100).max(3_600_000).optional(),
  /** How long the breaker stays open before letting probes through. */
  openMs: Millis.optional(),
  /** Probe calls allowed while half-open. */
  halfOpenProbes: z.number().int().min(1).max(1_000).optional(),
});

/**
 * How much a request matters when its callee is overloaded, least first (Google SRE book,
 * "Handling Overload"): sheddable requests are refused first, critical ones last.
 */
export const Criticality = z.enum(["sheddable", "default", "critical"]);
export type Criticality = z.infer<typeof Criticality>;

export const ConcurrencyPolicy = z.strictObject({
  /** Off only to measure what the limiter costs (the bench); a limit of some kind always helps. */
  enabled: z.boolean().optional(),
  mode: z.enum(["fixed", "adaptive"]).optional(),
  /** In-flight requests per instance and endpoint (the start point in adaptive mode). */
  limit: z.number().int().min(1).max(100_000).optional(),
  minLimit: z.number().int().min(1).max(100_000).optional(),
  maxLimit: z.number().int().min(1).max(100_000).optional(),
  /** A tenant's share of a saturated limit relative to other tenants' (set it in a plan). */
  weight: z.number().gt(0).max(1_000).optional(),
  /** Criticality of requests that do not send `Mesh-Criticality`. */
  criticality: Criticality.optional(),
  /** Highest criticality a caller may ask for with `Mesh-Criticality`, when above `criticality`. */
  maxCriticality: Criticality.optional(),
});

/**
 * How a caller spreads an endpoint's calls over its instances: `queue-group` lets NATS pick one at
 * random; `p2c-ewma` picks the cheaper of two random instances by a decaying latency average times
 * the requests in flight (Peak-EWMA), sending to the instance's own subject.
 */
export const BalanceMode = z.enum(["queue-group", "p2c-ewma"]);
export type BalanceMode = z.infer<typeof BalanceMode>;

/** Hedging of idempotent calls: more attempts to other instances while the first is slow. */
export const HedgePolicy = z
  .strictObject({
    /** Wait this long for an answer before sending the next hedge. */
    afterMs: z.number().int().min(1).max(60_000),
    /** Hedges per call beyond the first attempt; 0 turns hedging off. */
    max: z.number().int().min(0).max(5),
  })
  .describe("Hedged attempts of idempotent calls; each spends the retry budget");

/** Ejection of instances whose callee-blamed failure rate is too high, by each caller (p2c-ewma). */
export const OutlierPolicy = z.strictObject({
  enabled: z.boolean().optional(),
  /** Share of an instance's calls failing by the callee's fault in the window that ejects it. */
  failureRatio: z.number().gt(0).max(1).optional(),
  /** Calls to the instance in the window before the ratio counts. */
  minimumCalls: z.number().int().min(1).max(100_000).optional(),
  /** At least 100 ms: the window has 10 buckets. */
  windowMs: z.number().int().min(100).max(3_600_000).optional(),
  /** First ejection's length; each ejection in a row lasts once more as long (at most 10 times). */
  ejectMs: Millis.optional(),
  /** Most of an endpoint's instances ejected at once, as a share (at least one of two or more). */
  maxEjectedShare: z.number().min(0).max(1).optional(),
});

/** Settings that options, defaults, services, endpoints and plans can each set; the most specific wins. */
export const CallSettings = z.strictObject({
  /** Deadline of a call in ms. */
  timeoutMs: CallMillis.optional(),
  /** Per-attempt limit in ms, so a slow attempt of an idempotent call can be retried. */
  attemptTimeoutMs: CallMillis.optional(),
  /** Safe to run twice: may be retried after a timeout or INTERNAL. */
  idempotent: z.boolean().optional(),
  retry: RetryPolicy.optional(),
  breaker: BreakerPolicy.optional(),
  concurrency: ConcurrencyPolicy.optional(),
  balance: BalanceMode.optional(),
  hedge: HedgePolicy.optional(),
  outlier: OutlierPolicy.optional(),
  /** Largest request body in bytes the endpoint accepts. */
  maxRequestBytes: z
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024)
    .optional(),
});
export type CallSettings = z.infer<typeof CallSettings>;
export type CallSettingsInput = z.input<typeof CallSettings>;
/** A retry budget's parameters: all three, as `retry.budget` requires. */
export type RetryBudgetSettings = NonNullable<z.output<typeof RetryPolicy>["budget"]>;
