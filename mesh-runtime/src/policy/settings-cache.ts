import type { EndpointSpec } from "@switchyard/schemas";
import type { CompiledPolicy, Declared, EffectiveSettings } from "./effective-settings.js";

/** What a contract says of an endpoint that policy may override: for its callers and its callee alike. */
export function declaredBy(spec: EndpointSpec): Declared {
  return {
    timeoutMs: spec.timeoutMs,
    // a deduplicated endpoint is safe to retry: its callee replays the first reply
    idempotent: spec.idempotent ?? (spec.dedupe ? true : undefined),
  };
}

/**
 * The effective settings of one endpoint, resolved once per policy version (and per plan) rather
 * than on every call: the hot path pays a version compare and, with plans, one map read.
 */
export class SettingsCache {
  readonly service: string;
  readonly endpoint: string;
  readonly declared: Declared;
  #version = -1;
  #settings: EffectiveSettings | undefined;
  #byPlan: Map<string, EffectiveSettings> | undefined;

  constructor(service: string, endpoint: string, declared: Declared) {
    this.service = service;
    this.endpoint = endpoint;
    this.declared = declared;
  }

  get(policy: CompiledPolicy, plan: string | undefined): EffectiveSettings {
    if (policy.version !== this.#version || this.#settings === undefined) {
      this.#version = policy.version;
      this.#settings = policy.resolve(this.service, this.endpoint, this.declared, undefined);
      this.#byPlan = undefined;
    }
    if (plan === undefined) return this.#settings;
    this.#byPlan ??= new Map();
    let settings = this.#byPlan.get(plan);
    if (settings === undefined) {
      settings = policy.resolve(this.service, this.endpoint, this.declared, plan);
      this.#byPlan.set(plan, settings);
    }
    return settings;
  }
}
