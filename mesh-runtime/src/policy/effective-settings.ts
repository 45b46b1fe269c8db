import { allowsCall, type CallSettings, CONTROLLER_SERVICE, type Policy } from "@switchyard/schemas";
import type { ResolvedMeshOptions } from "../options.js";
import { QuotaRules } from "../quota/quota-rules.js";

/** Everything a call or a served request needs from policy, fully defaulted. */
export interface EffectiveSettings {
  readonly timeoutMs: number;
  readonly attemptTimeoutMs: number | undefined;
  readonly idempotent: boolean;
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly budget: { readonly ratio: number; readonly minPerSecond: number; readonly windowMs: number };
  readonly breaker: Readonly<ResolvedMeshOptions["calls"]["breaker"]>;
  readonly concurrency: Readonly<ResolvedMeshOptions["calls"]["concurrency"]>;
  /** Largest request body accepted; undefined: only the server's `max_payload`. */
  readonly maxRequestBytes: number | undefined;
}

/** `base` with the fields `over` sets; absent fields keep the base's value. */
function merge<T extends object>(base: T, over: Partial<T> | undefined): T {
  if (over === undefined) return base;
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** What a contract declares about an endpoint, which policy may override; absent is "not said". */
export interface Declared {
  readonly timeoutMs: number | undefined;
  readonly idempotent: boolean | undefined;
}

function overlay(base: EffectiveSettings, s: CallSettings | undefined): EffectiveSettings {
  if (s === undefined) return base;
  return {
    timeoutMs: s.timeoutMs ?? base.timeoutMs,
    attemptTimeoutMs: s.attemptTimeoutMs ?? base.attemptTimeoutMs,
    idempotent: s.idempotent ?? base.idempotent,
    maxAttempts: s.retry?.maxAttempts ?? base.maxAttempts,
    baseDelayMs: s.retry?.backoff?.baseMs ?? base.baseDelayMs,
    maxDelayMs: s.retry?.backoff?.maxMs ?? base.maxDelayMs,
    budget: s.retry?.budget ?? base.budget,
    breaker: merge(base.breaker, s.breaker),
    concurrency: merge(base.concurrency, s.concurrency),
    maxRequestBytes: s.maxRequestBytes ?? base.maxRequestBytes,
  };
}

/** The runtime's own defaults, before any policy: mesh options. */
export function baseSettings(calls: ResolvedMeshOptions["calls"]): EffectiveSettings {
  return {
    timeoutMs: calls.timeoutMs,
    attemptTimeoutMs: calls.attemptTimeoutMs,
    idempotent: false,
    maxAttempts: calls.retry.maxAttempts,
    baseDelayMs: calls.retry.baseDelayMs,
    maxDelayMs: calls.retry.maxDelayMs,
    budget: calls.retryBudget,
    breaker: calls.breaker,
    concurrency: calls.concurrency,
    maxRequestBytes: undefined,
  };
}

/**
 * A policy compiled for lookups: defaults → contract → service → endpoint → tenant's plan, the
 * most specific last. Built once per applied version; each lookup is a few map reads, cached by
 * the caller per (endpoint, plan).
 */
type FaultRule = Policy["faults"][number];
const NO_FAULTS: readonly FaultRule[] = Object.freeze([]);

export class CompiledPolicy {
  readonly version: number;
  readonly policy: Policy | undefined;
  readonly quotas: QuotaRules;
  readonly #faults = new Map<string, readonly FaultRule[]>();
  readonly #access = new Map<string, boolean>();
  readonly #base: EffectiveSettings;

  constructor(version: number, policy: Policy | undefined, calls: ResolvedMeshOptions["calls"]) {
    this.version = version;
    this.policy = policy;
    this.quotas = new QuotaRules(policy);
    this.#base = overlay(baseSettings(calls), policy?.defaults);
  }

  /**
   * Whether the access rules let `caller` call `service.endpoint`. No policy allows everything;
   * the controller is left to the broker, which lets only the operator publish its writes.
   */
  allowsCall(caller: string | undefined, service: string, endpoint: string): boolean {
    const access = this.policy?.access;
    if (access === undefined || access.default === "allow" || service === CONTROLLER_SERVICE) return true;
    const key = `${caller ?? ""}>${service}.${endpoint}`;
    let allowed = this.#access.get(key);
    if (allowed === undefined) {
      allowed = access.rules.length > 0 && allowsCall(access, caller, service, endpoint);
      if (this.#access.size >= 10_000) this.#access.clear();
      this.#access.set(key, allowed);
    }
    return allowed;
  }

  /** False for a tenant the policy does not list when unknown tenants are denied. */
  admitsTenant(tenant: string | undefined): boolean {
    const tenants = this.policy?.tenants;
    if (tenant === undefined || tenants === undefined || tenants.unknownTenants !== "deny") return true;
    return Object.hasOwn(tenants.tenants, tenant);
  }

  /** Fault rules (resilience drills) for a request; usually none. */
  faults(service: string, endpoint: string, tenant: string | undefined): readonly FaultRule[] {
    const all = this.policy?.faults;
    if (all === undefined || all.length === 0) return NO_FAULTS;
    const key = `${service}.${endpoint}|${tenant ?? ""}`;
    let found = this.#faults.get(key);
    if (found === undefined) {
      found = all.filter(
        (f) =>
          f.service === service &&
          (f.endpoint === undefined || f.endpoint === "*" || f.endpoint === endpoint) &&
          (f.tenant === undefined || f.tenant === tenant),
      );
      if (this.#faults.size >= 10_000) this.#faults.clear();
      this.#faults.set(key, found);
    }
    return found;
  }

  /** The plan a tenant is on, or undefined for none (no policy, or no tenant). */
  planOf(tenant: string | undefined): string | undefined {
    const tenants = this.policy?.tenants;
    if (tenant === undefined || tenants === undefined) return undefined;
    const known = tenants.tenants[tenant];
    if (known !== undefined) return known.plan;
    return tenants.unknownTenants === "deny" ? undefined : tenants.unknownTenants.plan;
  }

  resolve(
    service: string,
    endpoint: string,
    declared: Declared,
    plan: string | undefined,
  ): EffectiveSettings {
    let settings = this.#base;
    if (declared.timeoutMs !== undefined || declared.idempotent !== undefined) {
      settings = {
        ...settings,
        timeoutMs: declared.timeoutMs ?? settings.timeoutMs,
        idempotent: declared.idempotent ?? settings.idempotent,
      };
    }
    const svc = this.policy?.services[service];
    if (svc !== undefined) {
      settings = overlay(settings, svc);
      settings = overlay(settings, svc.endpoints?.[endpoint]);
    }
    if (plan !== undefined) settings = overlay(settings, this.policy?.tenants.plans[plan]?.settings);
    return settings;
  }
}
