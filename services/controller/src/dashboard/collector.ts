import type { NatsConnection } from "@nats-io/nats-core";
import { MeshStatsResponse, MetadataKey, type Policy } from "@switchyard/schemas";
import { type EdgeRow, type EndpointRow, readingOf, refreshOf, type StatsReading } from "../stats-model.js";
import { type VersionRow, type VersionSample, versionRowsOf, versionSampleOf } from "../version-traffic.js";
import { discoveryTargets, gatherDiscovery } from "./discovery-fan-out.js";

/** One running instance, as its STATS reply describes it. */
export interface InstanceRow {
  service: string;
  id: string;
  version: string;
  policyVersion: number | null;
  runtime: string | null;
  startedAt: string;
  uptimeS: number;
  inFlight: number;
}

/** Quota decisions of one rule and tenant, summed over the instances that enforce it. */
export interface QuotaRow {
  rule: string;
  tenant: string;
  service: string;
  endpoint: string;
  decisions: Record<string, number>;
}

/** One point of an endpoint's history (one a second, 15 minutes kept). */
export interface HistoryPoint {
  t: number;
  callsPerSec: number;
  successRate: number | null;
  p99Ms: number | null;
}

/** What the dashboard shows, as of the last collection. */
export interface Snapshot {
  at: string;
  /** CPU the last collection took (parsing the replies, computing the figures), ms. */
  collectMs: number;
  /** Replies the last collection refused: invalid, or answering for another service than asked. */
  droppedReplies: number;
  instances: InstanceRow[];
  endpoints: EndpointRow[];
  edges: EdgeRow[];
  quotas: QuotaRow[];
  /** Traffic per service version (routes, canaries, mirrors). */
  versions: VersionRow[];
}

const HISTORY_POINTS = 900;
const GATHER_MS = 400;

/** The policy in force, whose identities a vouching broker's discovery is asked for. */
export type PolicySource = () => Promise<Policy | undefined>;

/**
 * Gathers `$SRV.STATS` from every instance once per period and keeps the figures the dashboard
 * shows: endpoints and edges with rates against the previous collection, instances, quota
 * decisions, and 15 minutes of history per endpoint. Nothing runs while nobody looks: collection
 * starts on first use and stops after a minute without one.
 */
export class StatsCollector {
  readonly #nc: NatsConnection;
  readonly #policy: PolicySource;
  readonly #periodMs: number;
  #timer: NodeJS.Timeout | undefined;
  #previous: StatsReading | undefined;
  #previousVersions: VersionSample | undefined;
  #snapshot: Snapshot = {
    at: new Date(0).toISOString(),
    collectMs: 0,
    droppedReplies: 0,
    instances: [],
    endpoints: [],
    edges: [],
    quotas: [],
    versions: [],
  };
  readonly #history = new Map<string, HistoryPoint[]>();
  readonly #listeners = new Set<(s: Snapshot) => void>();
  #lastUsed = 0;
  #running: Promise<void> | undefined;

  constructor(nc: NatsConnection, policy: PolicySource, periodMs = 1_000) {
    this.#nc = nc;
    this.#policy = policy;
    this.#periodMs = periodMs;
  }

  /** The latest snapshot; starts collecting when idle (the first call waits for one). */
  async snapshot(): Promise<Snapshot> {
    this.#touch();
    if (this.#previous === undefined) await (this.#running ?? this.#collect());
    return this.#snapshot;
  }

  history(service: string, endpoint: string): HistoryPoint[] {
    this.#touch();
    return this.#history.get(`${service}/${endpoint}`) ?? [];
  }

  /** Calls `listener` after every collection until the returned function is called. */
  subscribe(listener: (s: Snapshot) => void): () => void {
    this.#touch();
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    // rates need two fresh collections: the next use starts over instead of showing stale figures
    this.#previous = undefined;
    this.#previousVersions = undefined;
  }

  #touch(): void {
    this.#lastUsed = Date.now();
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => {
        if (this.#listeners.size === 0 && Date.now() - this.#lastUsed > 60_000) this.stop();
        else if (this.#running === undefined) void this.#collect();
      }, this.#periodMs);
      this.#timer.unref();
    }
  }

  #collect(): Promise<void> {
    this.#running = this.#gather().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #gather(): Promise<void> {
    let replies: MeshStatsResponse[] = [];
    let dropped = 0;
    // gathering is mostly waiting: the cost is parsing the replies and what comes after
    let parseMs = 0;
    try {
      const targets = await discoveryTargets(this.#nc, () => this.#policy().catch(() => undefined));
      const gathered = await gatherDiscovery(this.#nc, "STATS", MeshStatsResponse, targets, GATHER_MS);
      ({ replies, dropped, parseMs } = gathered);
    } catch {
      // the connection is closing or lost: an empty collection, the next one tries again
    }
    const now = performance.now();
    const reading = readingOf(replies, now);
    const { endpoints, edges } = refreshOf(reading, this.#previous);
    const versionSample = versionSampleOf(replies);
    const versions = versionRowsOf(
      versionSample,
      this.#previousVersions,
      this.#previous === undefined ? 0 : now - this.#previous.at,
    );
    this.#previousVersions = versionSample;
    const t = Date.now();
    for (const row of endpoints) {
      const key = `${row.service}/${row.endpoint}`;
      const points = this.#history.get(key) ?? [];
      points.push({ t, callsPerSec: row.callsPerSec, successRate: row.successRate, p99Ms: row.p99Ms });
      if (points.length > HISTORY_POINTS) points.splice(0, points.length - HISTORY_POINTS);
      this.#history.set(key, points);
    }
    this.#previous = reading;
    this.#snapshot = {
      at: new Date(t).toISOString(),
      collectMs: Math.round((parseMs + performance.now() - now) * 100) / 100,
      droppedReplies: dropped,
      instances: instancesOf(replies),
      endpoints,
      edges,
      quotas: quotasOf(replies),
      versions,
    };
    for (const listener of this.#listeners) listener(this.#snapshot);
  }
}

function instancesOf(replies: readonly MeshStatsResponse[]): InstanceRow[] {
  const now = Date.now();
  return replies
    .map((r) => {
      const started = Date.parse(r.started);
      const policy = r.metadata?.[MetadataKey.PolicyVersion];
      return {
        service: r.name,
        id: r.id,
        version: r.version,
        policyVersion: policy === undefined ? null : Number(policy),
        runtime: r.metadata?.[MetadataKey.Runtime] ?? null,
        startedAt: r.started,
        uptimeS: Number.isFinite(started) ? Math.max(0, Math.round((now - started) / 1_000)) : 0,
        inFlight: r.endpoints.reduce((n, e) => n + (e.data?.inFlight ?? 0), 0),
      };
    })
    .sort((a, b) => `${a.service}/${a.id}`.localeCompare(`${b.service}/${b.id}`));
}

function quotasOf(replies: readonly MeshStatsResponse[]): QuotaRow[] {
  const rows = new Map<string, QuotaRow>();
  for (const r of replies) {
    for (const e of r.endpoints) {
      for (const [ruleTenant, decisions] of Object.entries(e.data?.quota ?? {})) {
        const [rule = "", tenant = ""] = ruleTenant.split("/");
        const key = `${ruleTenant}|${r.name}/${e.name}`;
        const row = rows.get(key) ?? { rule, tenant, service: r.name, endpoint: e.name, decisions: {} };
        for (const [k, v] of Object.entries(decisions)) row.decisions[k] = (row.decisions[k] ?? 0) + v;
        rows.set(key, row);
      }
    }
  }
  return [...rows.values()].sort((a, b) => `${a.tenant}/${a.rule}`.localeCompare(`${b.tenant}/${b.rule}`));
}
