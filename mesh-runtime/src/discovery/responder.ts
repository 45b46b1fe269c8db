import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  type CallStats,
  DiscoveryVerb,
  discoverySubject,
  type InfoResponse,
  LATENCY_BOUNDS_MS,
  latencyBucketOf,
  type PingResponse,
  type StatsResponse,
} from "@switchyard/schemas";
import type { Logger } from "pino";

/** Requests, errors and handling times: of an endpoint, or of one caller of it. */
class Tally {
  requests = 0;
  errors = 0;
  /** Handling times by `LATENCY_BOUNDS_MS` bucket, the last one open-ended. */
  readonly latency: number[] = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);

  add(bucket: number, failed: boolean): void {
    this.requests++;
    if (failed) this.errors++;
    this.latency[bucket] = (this.latency[bucket] as number) + 1;
  }
}

/** A caller's tally, and whether the broker vouched for every request counted in it. */
class CallerTally extends Tally {
  verified = true;
}

// callers are services, so few; a flood of made-up `Mesh-Caller` names shares one tally
const MAX_CALLERS = 256;
const OTHER_CALLERS = "(other)";
const UNNAMED_CALLER = "(unnamed)";

/** Counters one served endpoint keeps for `$SRV.STATS` (`switchyard top`, the dashboard). */
export class EndpointCounters extends Tally {
  lastError = "";
  processingNs = 0;
  inFlight = 0;
  sheds = 0;
  /**
   * The same, per calling service (the broker's account, else `Mesh-Caller`): the edges of the
   * mesh's topology.
   */
  readonly callers = new Map<string, CallerTally>();

  /** `verified`: the broker vouched for `caller`, rather than the request asserting it. */
  record(elapsedMs: number, error: string | undefined, caller: string | undefined, verified: boolean): void {
    const bucket = latencyBucketOf(elapsedMs);
    const failed = error !== undefined;
    this.add(bucket, failed);
    this.processingNs += Math.round(elapsedMs * 1e6);
    if (failed) this.lastError = error;
    const name = caller ?? UNNAMED_CALLER;
    let tally = this.callers.get(name);
    if (tally === undefined) {
      const shared = this.callers.size >= MAX_CALLERS;
      tally = (shared ? this.callers.get(OTHER_CALLERS) : undefined) ?? new CallerTally();
      this.callers.set(shared ? OTHER_CALLERS : name, tally);
    }
    tally.add(bucket, failed);
    // one asserted request makes the whole tally asserted: it may hold a forged name
    if (!verified || caller === undefined) tally.verified = false;
  }
}

/** What discovery tells about one served service. */
export interface DiscoverySource {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly queueGroup: string;
  readonly started: Date;
  readonly endpoints: ReadonlyArray<{
    readonly name: string;
    readonly subject: string;
    readonly counters: EndpointCounters;
    /** Extra statistics (quota decisions), in the reply's `data`. */
    readonly data?: () => unknown;
  }>;
  metadata(): Record<string, string>;
  /** What this process saw of the endpoints it calls: counts by code and breaker state. */
  calls(): CallStats[];
}

type DiscoveryReply = PingResponse | InfoResponse | StatsResponse;
type SourceEndpoint = DiscoverySource["endpoints"][number];

/**
 * Answers NATS micro (ADR-32) discovery for one service instance: `$SRV.PING|INFO|STATS`, bare,
 * `.<name>` and `.<name>.<id>`, without a queue group so every instance answers. `nats micro ls`
 * and any NATS tool see Switchyard services this way.
 */
export function answerDiscovery(
  nc: NatsConnection,
  source: DiscoverySource,
  id: string,
  log: Logger,
): Subscription[] {
  const replies = discoveryReplies(source, id);
  const subs: Subscription[] = [];
  for (const verb of Object.values(DiscoveryVerb)) {
    for (const subject of [
      discoverySubject(verb),
      discoverySubject(verb, source.name),
      discoverySubject(verb, source.name, id),
    ]) {
      subs.push(
        nc.subscribe(subject, {
          callback: (_err, msg) => {
            try {
              msg.respond(JSON.stringify(replies[verb]()));
            } catch (error) {
              log.warn({ err: error, subject }, "could not answer discovery");
            }
          },
        }),
      );
    }
  }
  return subs;
}

/** The reply to each verb, made when asked so it says how things are now. */
function discoveryReplies(source: DiscoverySource, id: string): Record<DiscoveryVerb, () => DiscoveryReply> {
  const base = { name: source.name, id, version: source.version };
  return {
    PING: () => ({ type: "io.nats.micro.v1.ping_response", ...base, metadata: source.metadata() }),
    INFO: () => ({
      type: "io.nats.micro.v1.info_response",
      ...base,
      description: source.description,
      metadata: source.metadata(),
      endpoints: source.endpoints.map((e) => ({
        name: e.name,
        subject: e.subject,
        queue_group: source.queueGroup,
        metadata: null,
      })),
    }),
    STATS: () => ({
      type: "io.nats.micro.v1.stats_response",
      ...base,
      metadata: source.metadata(),
      started: source.started.toISOString(),
      endpoints: source.endpoints.map((e) => endpointStats(e, source.queueGroup)),
      mesh_calls: source.calls(),
    }),
  };
}

/** One endpoint in a STATS reply: the NATS micro fields, and ours in `data`. */
function endpointStats(
  { name, subject, counters: c, data }: SourceEndpoint,
  queueGroup: string,
): StatsResponse["endpoints"][number] {
  return {
    name,
    subject,
    queue_group: queueGroup,
    num_requests: c.requests,
    num_errors: c.errors,
    last_error: c.lastError,
    processing_time: c.processingNs,
    average_processing_time: c.requests === 0 ? 0 : Math.round(c.processingNs / c.requests),
    data: {
      latency: { boundsMs: LATENCY_BOUNDS_MS, counts: c.latency },
      inFlight: c.inFlight,
      sheds: c.sheds,
      callers: Object.fromEntries(
        [...c.callers].map(([caller, t]) => [
          caller,
          { requests: t.requests, errors: t.errors, counts: t.latency, verified: t.verified },
        ]),
      ),
      ...(data?.() as object | undefined),
    },
  };
}
