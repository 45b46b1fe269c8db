import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  type CallStats,
  DiscoveryVerb,
  discoverySubject,
  type InfoResponse,
  LATENCY_BOUNDS_MS,
  type PingResponse,
  type StatsResponse,
} from "@switchyard/schemas";
import type { Logger } from "pino";

/** Counters one served endpoint keeps for `$SRV.STATS` (and `switchyard top`). */
export class EndpointCounters {
  requests = 0;
  errors = 0;
  lastError = "";
  processingNs = 0;
  inFlight = 0;
  sheds = 0;
  /** Handling times by `LATENCY_BOUNDS_MS` bucket, the last one open-ended. */
  readonly latency: number[] = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);

  record(elapsedMs: number, error: string | undefined): void {
    this.requests++;
    this.processingNs += Math.round(elapsedMs * 1e6);
    let bucket = 0;
    while (bucket < LATENCY_BOUNDS_MS.length && elapsedMs > (LATENCY_BOUNDS_MS[bucket] as number)) bucket++;
    this.latency[bucket] = (this.latency[bucket] as number) + 1;
    if (error !== undefined) {
      this.errors++;
      this.lastError = error;
    }
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
  /** What this process's callers see of the endpoints they call. */
  calls(): CallStats[];
}

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
  const base = { name: source.name, id, version: source.version };
  const replies: Record<DiscoveryVerb, () => PingResponse | InfoResponse | StatsResponse> = {
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
      endpoints: source.endpoints.map(({ name, subject, counters: c, data }) => ({
        name,
        subject,
        queue_group: source.queueGroup,
        num_requests: c.requests,
        num_errors: c.errors,
        last_error: c.lastError,
        processing_time: c.processingNs,
        average_processing_time: c.requests === 0 ? 0 : Math.round(c.processingNs / c.requests),
        data: {
          latency: { boundsMs: LATENCY_BOUNDS_MS, counts: c.latency },
          inFlight: c.inFlight,
          sheds: c.sheds,
          ...(data?.() as object | undefined),
        },
      })),
      mesh_calls: source.calls(),
    }),
  };
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
