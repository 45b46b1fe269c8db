import type { MeshStatsResponse } from "@switchyard/schemas";

// Traffic per version of a service (issue 18): what `switchyard top` and the dashboard show while
// routes shift calls from one version to another. Summed from each instance's $SRV.STATS, which
// counts every request it served: plain, routed and mirrored alike.

/** One instance's totals since it started. */
interface InstanceTotals {
  readonly service: string;
  readonly version: string;
  readonly requests: number;
  readonly errors: number;
}

/** Instance totals by `<service>/<instance id>`, at one collection. */
export type VersionSample = ReadonlyMap<string, InstanceTotals>;

/** One version of one service over the last interval. */
export interface VersionRow {
  service: string;
  /** The contract version its instances advertise. */
  version: string;
  instances: number;
  callsPerSec: number;
  /** Of the requests this version answered, the share without an error; null without requests. */
  successRate: number | null;
  /** This version's share of the service's requests in the interval; null when it had none. */
  share: number | null;
}

export function versionSampleOf(replies: readonly MeshStatsResponse[]): VersionSample {
  const out = new Map<string, InstanceTotals>();
  for (const r of replies) {
    let requests = 0;
    let errors = 0;
    for (const e of r.endpoints) {
      requests += e.num_requests;
      errors += e.num_errors;
    }
    out.set(`${r.name}/${r.id}`, { service: r.name, version: r.version, requests, errors });
  }
  return out;
}

/**
 * Rows per (service, version), sorted; rates over `elapsedMs` against `before`. An instance new
 * since `before`, or restarted (its counters went down), counts from zero.
 */
export function versionRowsOf(
  now: VersionSample,
  before: VersionSample | undefined,
  elapsedMs: number,
): VersionRow[] {
  const rows = new Map<string, VersionRow & { requests: number; errors: number }>();
  const perService = new Map<string, number>();
  for (const [key, t] of now) {
    const was = before?.get(key);
    const fresh = was === undefined || was.requests > t.requests || was.version !== t.version;
    const requests = fresh ? (before === undefined ? 0 : t.requests) : t.requests - was.requests;
    const errors = fresh ? (before === undefined ? 0 : t.errors) : Math.max(0, t.errors - was.errors);
    const id = `${t.service}@${t.version}`;
    const row = rows.get(id) ?? {
      service: t.service,
      version: t.version,
      instances: 0,
      callsPerSec: 0,
      successRate: null,
      share: null,
      requests: 0,
      errors: 0,
    };
    row.instances++;
    row.requests += requests;
    row.errors += errors;
    rows.set(id, row);
    perService.set(t.service, (perService.get(t.service) ?? 0) + requests);
  }
  const seconds = elapsedMs > 0 ? elapsedMs / 1_000 : Number.POSITIVE_INFINITY;
  return [...rows.values()]
    .sort((a, b) => a.service.localeCompare(b.service) || a.version.localeCompare(b.version))
    .map(({ requests, errors, ...row }) => {
      const total = perService.get(row.service) ?? 0;
      return {
        ...row,
        callsPerSec: Math.round((requests / seconds) * 100) / 100,
        successRate: requests === 0 ? null : Math.round(((requests - errors) / requests) * 10_000) / 10_000,
        share: total === 0 ? null : Math.round((requests / total) * 10_000) / 10_000,
      };
    });
}
