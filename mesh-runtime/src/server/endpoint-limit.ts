import type { Criticality } from "@switchyard/schemas";
import type { CompiledPolicy, EffectiveSettings } from "../policy/effective-settings.js";
import { ConcurrencyLimit } from "../resilience/concurrency-limit.js";

/**
 * The concurrency limit of one served endpoint, for the parameters the policy gives now: a change
 * starts a fresh limiter (requests holding a slot of the old one give it back there).
 */
export class EndpointLimit {
  #params: EffectiveSettings["concurrency"] | undefined;
  #limit: ConcurrencyLimit | undefined;

  /** The limiter in use, if a request has been served yet. */
  get current(): ConcurrencyLimit | undefined {
    return this.#limit;
  }

  get(params: EffectiveSettings["concurrency"]): ConcurrencyLimit {
    // settings objects are reused within a policy version: compare fields only when that changes
    if (params !== this.#params) {
      const p = this.#params;
      const same =
        p !== undefined &&
        p.mode === params.mode &&
        p.limit === params.limit &&
        p.minLimit === params.minLimit &&
        p.maxLimit === params.maxLimit;
      if (!same) this.#limit = new ConcurrencyLimit(params);
      this.#params = params;
    }
    return this.#limit as ConcurrencyLimit;
  }
}

const RANK: Readonly<Record<Criticality, number>> = { sheddable: 0, default: 1, critical: 2 };

/**
 * The criticality a request is served with: the policy's level, or the one the caller asked for
 * with `Mesh-Criticality` if lower, or higher but within `maxCriticality`.
 */
export function requestCriticality(
  params: EffectiveSettings["concurrency"],
  asked: Criticality | undefined,
): Criticality {
  if (asked === undefined) return params.criticality;
  const ceiling =
    RANK[params.maxCriticality] > RANK[params.criticality] ? params.maxCriticality : params.criticality;
  return RANK[asked] <= RANK[ceiling] ? asked : ceiling;
}

/**
 * A request's fair-share bucket: its tenant when the policy lists it; any other tenant (unknown,
 * or none) shares one bucket, so inventing tenant ids cannot claim more shares.
 */
export function shareBucket(policy: CompiledPolicy, tenant: string | undefined): string {
  const listed = policy.policy?.tenants.tenants;
  return tenant !== undefined && listed !== undefined && Object.hasOwn(listed, tenant) ? tenant : "";
}
