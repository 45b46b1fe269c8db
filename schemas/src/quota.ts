/** What a quota rule's bucket is made of (the policy's rule, or any object with these). */
interface QuotaRule {
  readonly rate: number;
  readonly periodMs: number;
  readonly burst?: number | undefined;
  readonly cost?: number | undefined;
}

/** The Redis key of one rule's bucket for one tenant; `{tenant}` is the Redis Cluster hash tag. */
export function quotaKey(tenant: string, rule: string): string {
  return `mesh:quota:{${tenant}}:${rule}`;
}

/** The tenant name a request without `Mesh-Tenant` counts as. */
export const ANONYMOUS_TENANT = "-";

/**
 * A rule's GCRA bucket: a token every `intervalUs`, `depth` at most at once (burst, by default one
 * period's worth), `cost` per request.
 */
export function quotaBucket(rule: QuotaRule): { intervalUs: number; depth: number; cost: number } {
  return {
    intervalUs: (rule.periodMs * 1_000) / rule.rate,
    depth: rule.burst ?? rule.rate,
    cost: rule.cost ?? 1,
  };
}
