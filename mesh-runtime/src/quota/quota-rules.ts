import { type Policy, quotaBucket } from "@switchyard/schemas";
import { BoundedCache } from "../bounded-cache.js";
import type { GcraParams } from "./gcra.js";

type PolicyRule = Policy["quotas"][number];

/** A quota rule ready for decisions. */
export interface QuotaRule extends GcraParams {
  readonly name: string;
  readonly rate: number;
  readonly periodMs: number;
  readonly cost: number;
  readonly onStoreFailure: PolicyRule["onStoreFailure"];
  readonly shadow: boolean;
  /** Tokens taken per Redis call and spent locally; 0 is one decision per request (exact). */
  readonly leaseTokens: number;
}

const MAX_CACHED = 10_000;
const NONE: readonly QuotaRule[] = Object.freeze([]);

function compile(rule: PolicyRule): QuotaRule {
  return {
    name: rule.name,
    rate: rule.rate,
    periodMs: rule.periodMs,
    ...quotaBucket(rule),
    onStoreFailure: rule.onStoreFailure,
    shadow: rule.shadow ?? false,
    leaseTokens: rule.leaseTokens ?? 0,
  };
}

/** How specifically a rule names the caller: a tenant beats a plan beats "*". */
function specificity(rule: PolicyRule): number {
  if (rule.match.tenant !== undefined && rule.match.tenant !== "*") return 3;
  return rule.match.plan !== undefined ? 2 : 1;
}

/**
 * The quota rules of one policy version. Rules that cover the same service and endpoint
 * (patterns included) compete, and the one naming the caller most specifically wins; rules over
 * different scopes all apply, so a tenant-wide cap and a per-endpoint cap both hold.
 */
export class QuotaRules {
  readonly #rules: readonly PolicyRule[];
  readonly #compiled = new Map<string, QuotaRule>();
  readonly #cache = new BoundedCache<string, readonly QuotaRule[]>(MAX_CACHED);

  constructor(policy: Policy | undefined) {
    this.#rules = policy?.quotas ?? [];
    for (const rule of this.#rules) this.#compiled.set(rule.name, compile(rule));
  }

  get empty(): boolean {
    return this.#rules.length === 0;
  }

  /** Whether any rule falls back to a local bucket when Redis is down. */
  get anyLocal(): boolean {
    return this.#rules.some((r) => r.onStoreFailure === "local");
  }

  match(
    service: string,
    endpoint: string,
    tenant: string | undefined,
    plan: string | undefined,
  ): readonly QuotaRule[] {
    if (this.#rules.length === 0) return NONE;
    const key = `${service}.${endpoint}|${tenant ?? ""}|${plan ?? ""}`;
    return this.#cache.getOrCreate(key, () => {
      const winners = new Map<string, PolicyRule>();
      for (const rule of this.#rules) {
        const m = rule.match;
        if (m.service !== "*" && m.service !== service) continue;
        if (m.endpoint !== "*" && m.endpoint !== endpoint) continue;
        if (m.plan !== undefined && m.plan !== plan) continue;
        if (m.tenant !== undefined && m.tenant !== "*" && m.tenant !== tenant) continue;
        const scope = `${m.service}.${m.endpoint}`;
        const held = winners.get(scope);
        if (held === undefined || specificity(rule) > specificity(held)) winners.set(scope, rule);
      }
      return [...winners.values()].map((r) => this.#compiled.get(r.name) as QuotaRule);
    });
  }
}
