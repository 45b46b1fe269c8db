import { allowsCall, CONTROLLER_SERVICE, type Policy } from "@switchyard/schemas";
import { BoundedCache } from "../bounded-cache.js";
import { TenantTokenVerifier } from "../identity/tenant-token.js";
import type { ResolvedMeshOptions } from "../options.js";
import { QuotaRules } from "../quota/quota-rules.js";
import { type EffectiveSettings, overlaySettings } from "./resolved-settings.js";

export type { EffectiveSettings } from "./resolved-settings.js";

/** Memo entries per policy version: keyed by names callers choose, so bounded. */
const MAX_MEMO = 10_000;

/** A record's own entry: names peers choose ("constructor", "__proto__") never reach the prototype. */
function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** What a contract declares about an endpoint, which policy may override; absent is "not said". */
export interface Declared {
  readonly timeoutMs: number | undefined;
  readonly idempotent: boolean | undefined;
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
  readonly #faults = new BoundedCache<string, readonly FaultRule[]>(MAX_MEMO);
  readonly #access = new BoundedCache<string, boolean>(MAX_MEMO);
  readonly #base: EffectiveSettings;
  #verifier: TenantTokenVerifier | undefined;

  constructor(version: number, policy: Policy | undefined, calls: ResolvedMeshOptions["calls"]) {
    this.version = version;
    this.policy = policy;
    this.quotas = new QuotaRules(policy);
    this.#base = overlaySettings(calls, policy?.defaults);
  }

  /**
   * Whether the access rules let `caller` call `service.endpoint`. No policy allows everything;
   * the controller is left to the broker, which lets only the operator publish its writes.
   */
  allowsCall(caller: string | undefined, service: string, endpoint: string): boolean {
    const access = this.policy?.access;
    if (access === undefined || access.default === "allow" || service === CONTROLLER_SERVICE) return true;
    const key = `${caller ?? ""}>${service}.${endpoint}`;
    return this.#access.getOrCreate(
      key,
      () => access.rules.length > 0 && allowsCall(access, caller, service, endpoint),
    );
  }

  /** Whether a request naming a tenant needs a tenant token (`tenants.require: verified`). */
  get requiresVerifiedTenant(): boolean {
    return this.policy?.tenants.require === "verified";
  }

  /**
   * The verifier of tenant tokens, trusting this version's `tenants.issuers`: one per version,
   * so its cache of verified tokens never outlives the issuers it trusted.
   */
  tenantVerifier(): TenantTokenVerifier {
    if (this.#verifier === undefined) {
      const issuers = new Map<string, string>();
      for (const [name, issuer] of Object.entries(this.policy?.tenants.issuers ?? {})) {
        issuers.set(issuer.publicKey, name);
      }
      this.#verifier = new TenantTokenVerifier(issuers);
    }
    return this.#verifier;
  }

  /** The public nkey `identity` signs tenant tokens with, when the policy names it an issuer. */
  issuerKey(identity: string): string | undefined {
    return own(this.policy?.tenants.issuers, identity)?.publicKey;
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
    return this.#faults.getOrCreate(key, () =>
      all.filter(
        (f) =>
          f.service === service &&
          (f.endpoint === undefined || f.endpoint === "*" || f.endpoint === endpoint) &&
          (f.tenant === undefined || f.tenant === tenant),
      ),
    );
  }

  /** The plan a tenant is on, or undefined for none (no policy, or no tenant). */
  planOf(tenant: string | undefined): string | undefined {
    const tenants = this.policy?.tenants;
    if (tenant === undefined || tenants === undefined) return undefined;
    const known = own(tenants.tenants, tenant);
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
    const svc = own(this.policy?.services, service);
    if (svc !== undefined) {
      settings = overlaySettings(settings, svc);
      settings = overlaySettings(settings, own(svc.endpoints, endpoint));
    }
    if (plan !== undefined)
      settings = overlaySettings(settings, own(this.policy?.tenants.plans, plan)?.settings);
    return settings;
  }
}
