import { z } from "zod";

// $SRV discovery replies, NATS micro v1 (ADR-32); the official JSON schemas are the contract
// (../shared/contracts/nats-micro-v1) and a test validates our replies against them.

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

export const StatsResponse = z.object({
  type: z.literal("io.nats.micro.v1.stats_response"),
  name: z.string(),
  id: z.string(),
  version: z.string(),
  metadata: Metadata,
  /** RFC 3339. */
  started: z.string(),
  endpoints: z.array(EndpointStats),
});

export type PingResponse = z.infer<typeof PingResponse>;
export type InfoResponse = z.infer<typeof InfoResponse>;
export type StatsResponse = z.infer<typeof StatsResponse>;
export type EndpointStats = z.infer<typeof EndpointStats>;

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
