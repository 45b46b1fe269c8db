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
    if (this.#limit === undefined || this.#params !== params) {
      const same =
        this.#params !== undefined &&
        this.#params.mode === params.mode &&
        this.#params.limit === params.limit &&
        this.#params.minLimit === params.minLimit &&
        this.#params.maxLimit === params.maxLimit;
      if (!same || this.#limit === undefined) this.#limit = new ConcurrencyLimit(params);
      this.#params = params;
    }
    return this.#limit;
  }
}
