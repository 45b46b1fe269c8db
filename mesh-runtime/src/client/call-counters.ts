import { type CallStats, LATENCY_BOUNDS_MS, latencyBucketOf } from "@switchyard/schemas";

/**
 * What this process saw of its calls to one endpoint, for `$SRV.STATS` (`mesh_calls`): the
 * caller's side of an edge. Failures the callee never sees are here (CIRCUIT_OPEN, a spent retry
 * budget, a deadline or cancel raised locally), so a screen can tell an edge that fails at the
 * caller from a healthy one. Plain counters: nothing is allocated per call once a code was seen.
 */
export class CallCounters {
  readonly service: string;
  readonly endpoint: string;
  calls = 0;
  /** By code; few keys (the closed table of error codes). */
  readonly failures: Record<string, number> = {};
  readonly latency: number[] = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);

  constructor(service: string, endpoint: string) {
    this.service = service;
    this.endpoint = endpoint;
  }

  /** One settled call: `code` is its error's, undefined when it succeeded. */
  record(elapsedMs: number, code: string | undefined): void {
    this.calls++;
    if (code !== undefined) this.failures[code] = (this.failures[code] ?? 0) + 1;
    const bucket = latencyBucketOf(elapsedMs);
    this.latency[bucket] = (this.latency[bucket] as number) + 1;
  }

  /** The STATS entry, with the breaker state the pipeline holds for the endpoint. */
  stats(breaker: CallStats["breaker"]): CallStats {
    return {
      service: this.service,
      endpoint: this.endpoint,
      breaker,
      calls: this.calls,
      failures: { ...this.failures },
      counts: [...this.latency],
    };
  }
}
