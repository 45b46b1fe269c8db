import type { NatsConnection } from "@nats-io/nats-core";
import { LATENCY_BOUNDS_MS, type StatsResponse } from "@switchyard/schemas";

/** One instance's `$SRV.STATS` reply: three endpoints whose counters grow with `requests`. */
function statsOf(
  service: string,
  id: string,
  started: string,
  requests: number,
  calledBy: string,
): StatsResponse {
  const counts = LATENCY_BOUNDS_MS.map(() => 0).concat(0);
  counts[3] = requests;
  return {
    type: "io.nats.micro.v1.stats_response",
    name: service,
    id,
    version: "1.0.0",
    started,
    metadata: { "switchyard.policy_version": "0" },
    endpoints: ["get", "put", "list"].map((endpoint) => ({
      name: endpoint,
      subject: `mesh.svc.${service}.${endpoint}`,
      num_requests: requests,
      num_errors: 1,
      last_error: "",
      processing_time: requests * 1_000_000,
      average_processing_time: 1_000_000,
      data: {
        latency: { boundsMs: LATENCY_BOUNDS_MS, counts },
        inFlight: 1,
        sheds: 0,
        callers: { [calledBy]: { requests, errors: 1, counts } },
      },
    })),
  };
}

/**
 * `services` × `perService` fake instances on `nc`, each answering `$SRV.STATS` as a busy mesh
 * instance would, every service called by the next one: load for whatever collects statistics.
 */
export function publishStats(nc: NatsConnection, services: number, perService: number): void {
  const started = new Date().toISOString();
  let requests = 100;
  for (let s = 0; s < services; s++) {
    for (let i = 0; i < perService; i++) {
      nc.subscribe("$SRV.STATS", {
        callback: (_err, msg) => {
          const reply = statsOf(
            `svc-${s}`,
            `svc-${s}-${i}`,
            started,
            requests++,
            `svc-${(s + 1) % services}`,
          );
          msg.respond(JSON.stringify(reply));
        },
      });
    }
  }
}
