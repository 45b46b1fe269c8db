import { ANONYMOUS_TENANT, quotaKey } from "@switchyard/schemas";
import { BoundedCache } from "../bounded-cache.js";
import { MeshError } from "../errors.js";
import { gcra } from "./gcra.js";
import type { InstanceCount } from "./instance-count.js";
import type { QuotaRule } from "./quota-rules.js";
import { type QuotaStore, type RuleRequest, StoreUnavailable } from "./quota-store.js";

/** What happened to requests under one rule, for one tenant. */
export interface QuotaCounters {
  admitted: number;
  denied: number;
  shadowDenied: number;
  failOpen: number;
  failClosed: number;
  local: number;
}

interface Lease {
  tokens: number;
  expiresAt: number;
}

/** One call of `admit`: whose request, and the lease tokens it spent (given back on a denial). */
interface Admission {
  /** "service.endpoint" */
  readonly scope: string;
  readonly service: string;
  readonly who: string;
  /** Epoch ms. */
  readonly now: number;
  readonly spentLocally: Array<{ lease: Lease; cost: number }>;
}

const MAX_ENTRIES = 10_000;
// leased tokens are spent within this long, or dropped: it bounds how stale a lease can be
const LEASE_TTL_MS = 1_000;

/**
 * The quota step of the server pipeline (after deadline and access, before concurrency). Every
 * rule that applies must pass. Exact rules cost one Redis call per request; lease rules take
 * `leaseTokens` at a time and spend them here, so a hot tenant costs a Redis call per lease, and
 * at most `leaseTokens × instances` requests are admitted beyond the exact allowance. When Redis
 * cannot answer, each rule's `onStoreFailure` decides: admit (open), refuse with UNAVAILABLE
 * (closed), or a local bucket at rate ÷ live instances (local).
 */
export class QuotaGate {
  readonly #store: () => QuotaStore | undefined;
  readonly #instances: InstanceCount;
  // by "rule/tenant": bounded, since a flood of tenant names must not grow memory without end
  readonly #leases = new BoundedCache<string, Lease>(MAX_ENTRIES);
  readonly #local = new BoundedCache<string, number>(MAX_ENTRIES);
  // by "service.endpoint" (served endpoints, few), then by "rule/tenant"
  readonly #counters = new Map<string, BoundedCache<string, QuotaCounters>>();

  /** `store` is asked for lazily: a process whose policy has no quota never connects to Redis. */
  constructor(store: () => QuotaStore | undefined, instances: InstanceCount) {
    this.#store = store;
    this.#instances = instances;
  }

  /** One endpoint's counters by `rule/tenant`, for `$SRV.STATS`. */
  counters(service: string, endpoint: string): Readonly<Record<string, Readonly<QuotaCounters>>> | undefined {
    const found = this.#counters.get(`${service}.${endpoint}`);
    return found === undefined ? undefined : Object.fromEntries(found.entries());
  }

  /** Resolves when the request may proceed; rejects with QUOTA_EXCEEDED or UNAVAILABLE. */
  async admit(
    rules: readonly QuotaRule[],
    service: string,
    endpoint: string,
    tenant: string | undefined,
  ): Promise<void> {
    if (rules.some((r) => r.onStoreFailure === "local")) this.#instances.watch(service);
    const a: Admission = {
      scope: `${service}.${endpoint}`,
      service,
      who: tenant ?? ANONYMOUS_TENANT,
      now: Date.now(),
      spentLocally: [],
    };
    const pending = this.#spendLeases(rules, a);
    if (pending.length === 0) return;
    let decision: Awaited<ReturnType<QuotaStore["decide"]>>;
    try {
      const store = this.#store();
      if (store === undefined)
        throw new StoreUnavailable("no quota store is configured (redis.url or REDIS_URL)");
      decision = await store.decide(pending.map((rule) => request(rule, a.who)));
    } catch (error) {
      if (!(error instanceof StoreUnavailable)) throw error;
      this.#onStoreFailure(pending, a, error);
      return;
    }
    this.#applyDecision(pending, a, decision);
  }

  /** Rules a held lease covers are admitted here; the rest are returned for the store. */
  #spendLeases(rules: readonly QuotaRule[], a: Admission): QuotaRule[] {
    const pending: QuotaRule[] = [];
    for (const rule of rules) {
      const lease = rule.leaseTokens > 0 ? this.#leases.get(`${rule.name}/${a.who}`) : undefined;
      if (lease !== undefined && lease.expiresAt > a.now && lease.tokens >= rule.cost) {
        lease.tokens -= rule.cost;
        a.spentLocally.push({ lease, cost: rule.cost });
        this.#count(a, rule).admitted++;
      } else {
        pending.push(rule);
      }
    }
    return pending;
  }

  /** Counts the store's outcomes and keeps granted extra tokens as leases; throws on a denial. */
  #applyDecision(
    pending: readonly QuotaRule[],
    a: Admission,
    { ok, outcomes }: Awaited<ReturnType<QuotaStore["decide"]>>,
  ): void {
    pending.forEach((rule, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) return;
      if (outcome.granted === 0 && rule.shadow) this.#count(a, rule).shadowDenied++;
      if (!ok) return;
      if (outcome.granted > 0) this.#count(a, rule).admitted++;
      if (outcome.granted > rule.cost) {
        this.#leases.set(`${rule.name}/${a.who}`, {
          tokens: outcome.granted - rule.cost,
          expiresAt: a.now + LEASE_TTL_MS,
        });
      }
    });
    if (ok) return;
    refund(a.spentLocally);
    const index = pending.findIndex((rule, i) => !rule.shadow && outcomes[i]?.granted === 0);
    const rule = pending[index] as QuotaRule;
    const outcome = outcomes[index];
    this.#count(a, rule).denied++;
    throw new MeshError("QUOTA_EXCEEDED", `tenant ${a.who} is over quota ${rule.name}`, {
      retryAfterMs: Math.max(1, Math.ceil((outcome?.retryAfterUs ?? 0) / 1_000)),
      details: {
        rule: rule.name,
        tenant: a.who,
        remaining: outcome?.remaining ?? 0,
        rate: rule.rate,
        periodMs: rule.periodMs,
      },
    });
  }

  #onStoreFailure(rules: readonly QuotaRule[], a: Admission, error: StoreUnavailable): void {
    const { who, spentLocally } = a;
    const closed = rules.find((r) => r.onStoreFailure === "closed" && !r.shadow);
    if (closed !== undefined) {
      refund(spentLocally);
      this.#count(a, closed).failClosed++;
      throw new MeshError("UNAVAILABLE", `quota store unavailable and rule ${closed.name} fails closed`, {
        cause: error,
        details: { rule: closed.name },
        retryAfterMs: 1_000,
      });
    }
    const nowUs = Date.now() * 1_000;
    const instances = this.#instances.of(a.service);
    for (const rule of rules) {
      if (rule.onStoreFailure === "open" || rule.shadow) {
        this.#count(a, rule).failOpen++;
        continue;
      }
      // local: this instance's share of the rule, rate ÷ instances
      const key = `${rule.name}/${who}`;
      const share = {
        intervalUs: rule.intervalUs * instances,
        depth: Math.max(1, Math.floor(rule.depth / instances)),
      };
      const d = gcra(this.#local.get(key), nowUs, rule.cost, share);
      if (!d.allowed) {
        refund(spentLocally);
        this.#count(a, rule).denied++;
        throw new MeshError("QUOTA_EXCEEDED", `tenant ${who} is over quota ${rule.name} (local share)`, {
          retryAfterMs: Math.max(1, Math.ceil(d.retryAfterUs / 1_000)),
          details: {
            rule: rule.name,
            tenant: who,
            remaining: d.remaining,
            rate: rule.rate,
            periodMs: rule.periodMs,
            local: true,
          },
        });
      }
      this.#local.set(key, d.tat);
      this.#count(a, rule).local++;
    }
  }

  #count(a: Admission, rule: QuotaRule): QuotaCounters {
    let byRule = this.#counters.get(a.scope);
    if (byRule === undefined) {
      byRule = new BoundedCache(MAX_ENTRIES);
      this.#counters.set(a.scope, byRule);
    }
    const key = `${rule.name}/${a.who}`;
    let c = byRule.get(key);
    if (c === undefined) {
      c = { admitted: 0, denied: 0, shadowDenied: 0, failOpen: 0, failClosed: 0, local: 0 };
      byRule.set(key, c);
    }
    return c;
  }
}

function request(rule: QuotaRule, who: string): RuleRequest {
  return {
    key: quotaKey(who, rule.name),
    want: Math.max(rule.cost, rule.leaseTokens),
    min: rule.cost,
    intervalUs: rule.intervalUs,
    depth: rule.depth,
    shadow: rule.shadow,
  };
}

function refund(spent: ReadonlyArray<{ lease: Lease; cost: number }>): void {
  for (const { lease, cost } of spent) lease.tokens += cost;
}
