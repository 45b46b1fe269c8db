import { z } from "zod";

// $SRV discovery replies, NATS micro v1 (ADR-32); the official JSON schemas are the contract
// (vendored in test/fixtures/nats-micro-v1) and a test validates our replies against them.

const Metadata = z.record(z.string(), z.string()).nullable().optional();

export const PingResponse = z.object({
  type: z.literal("io.nats.micro.v1.ping_response"),
  name: z.string(),
  id: z.string(),
  version: z.string(),
  metadata: Metadata,
});

export const EndpointInfo = z.object({
  name: z.string(),
  subject: z.string(),
  queue_group: z.string().optional(),
  metadata: Metadata,
});

export const InfoResponse = z.object({
  type: z.literal("io.nats.micro.v1.info_response"),
  name: z.string(),
  id: z.string(),
  version: z.string(),
  description: z.string(),
  metadata: Metadata,
  endpoints: z.array(EndpointInfo),
});

export const EndpointStats = z.object({
  name: z.string(),
  subject: z.string(),
  queue_group: z.string().optional(),
  num_requests: z.number().int(),
  num_errors: z.number().int(),
  last_error: z.string(),
  /** Nanoseconds. */
  processing_time: z.number().int(),
  /** Nanoseconds. */
  average_processing_time: z.number().int(),
  data: z.unknown().optional(),
});

/** Upper bounds (ms) of the latency buckets in an endpoint's STATS `data`; one more bucket is open. */
export const LATENCY_BOUNDS_MS = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000,
] as const;

const Count = z.number().int().min(0);

/** What a Switchyard instance adds in an endpoint's STATS `data` (ADR-32 leaves `data` free). */
export const EndpointData = z.object({
  /** Handling times since the instance started: `counts[i]` ≤ `boundsMs[i]`, the last is above all. */
  latency: z.object({ boundsMs: z.array(z.number()), counts: z.array(Count) }),
  /** Requests being handled now. */
  inFlight: Count,
  /** Requests refused with OVERLOADED by the concurrency limit. */
  sheds: Count,
  /**
   * The same per calling service (the account the broker vouches for, else `Mesh-Caller`;
   * `(unnamed)` without one): the observed caller → callee edges. `counts` uses
   * `latency.boundsMs`; `verified` is false when any request counted only asserted its caller.
   */
  callers: z
    .record(
      z.string(),
      z.object({ requests: Count, errors: Count, counts: z.array(Count), verified: z.boolean().optional() }),
    )
    .optional(),
  /** Quota decisions by `rule/tenant`. */
  quota: z.record(z.string(), z.record(z.string(), Count)).optional(),
  concurrency: z.object({ limit: Count, inFlight: Count }).optional(),
});

/** The `LATENCY_BOUNDS_MS` bucket of a time in ms: the first bound it does not exceed, else the open last one. */
export function latencyBucketOf(elapsedMs: number): number {
  let bucket = 0;
  while (bucket < LATENCY_BOUNDS_MS.length && elapsedMs > (LATENCY_BOUNDS_MS[bucket] as number)) bucket++;
  return bucket;
}

/**
 * What this process saw of one endpoint it calls (STATS `mesh_calls`): the caller's side of an
 * edge, which shows failures the callee never sees (CIRCUIT_OPEN, RETRY_BUDGET_EXHAUSTED, a
 * deadline or cancel raised here). The counts are since the process started; runtimes before
 * them send only `breaker`.
 */
export const CallStats = z.object({
  service: z.string(),
  endpoint: z.string(),
  /** The worst state among this process's breakers on the endpoint; `closed` without one. */
  breaker: z.enum(["closed", "open", "half-open"]),
  /** Logical calls settled (retries inside one call count once). */
  calls: Count.optional(),
  /** The failed ones by code, local codes included; their sum is the calls that failed. */
  failures: z.record(z.string(), Count).optional(),
  /** Whole-call times by `LATENCY_BOUNDS_MS` bucket, the last one open-ended. */
  counts: z.array(Count).optional(),
  /** Instances of the endpoint this process has ejected from balancing now (outlier ejection). */
  ejected: Count.optional(),
});

export const StatsResponse = z.object({
  type: z.literal("io.nats.micro.v1.stats_response"),
  name: z.string(),
  id: z.string(),
  version: z.string(),
  metadata: Metadata,
  /** RFC 3339. */
  started: z.string(),
  endpoints: z.array(EndpointStats),
  /** Switchyard's extension: the calls this process makes (the same in each service it serves). */
  mesh_calls: z.array(CallStats).optional(),
});

/**
 * A STATS reply read once for Switchyard's figures: each endpoint's `data` as `EndpointData`, or
 * undefined where it is not (another NATS micro service's data).
 */
export const MeshStatsResponse = StatsResponse.extend({
  endpoints: z.array(EndpointStats.extend({ data: EndpointData.optional().catch(undefined) })),
});

export type PingResponse = z.infer<typeof PingResponse>;
export type InfoResponse = z.infer<typeof InfoResponse>;
export type StatsResponse = z.infer<typeof StatsResponse>;
export type EndpointStats = z.infer<typeof EndpointStats>;
export type EndpointData = z.infer<typeof EndpointData>;
export type MeshStatsResponse = z.infer<typeof MeshStatsResponse>;
export type CallStats = z.infer<typeof CallStats>;

/** The three discovery verbs. */
export const DiscoveryVerb = { Ping: "PING", Info: "INFO", Stats: "STATS" } as const;
export type DiscoveryVerb = (typeof DiscoveryVerb)[keyof typeof DiscoveryVerb];

/** `$SRV.<verb>`, `$SRV.<verb>.<name>` or `$SRV.<verb>.<name>.<id>`. */
export function discoverySubject(verb: DiscoveryVerb, name?: string, id?: string): string {
  return ["$SRV", verb, ...(name === undefined ? [] : [name]), ...(id === undefined ? [] : [id])].join(".");
}

/** Metadata keys the runtime puts on every service. */
export const MetadataKey = {
  Runtime: "switchyard.runtime",
  PolicyVersion: "switchyard.policy_version",
  Caller: "switchyard.process",
} as const;
