import type { EffectiveSettings } from "../policy/effective-settings.js";
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
