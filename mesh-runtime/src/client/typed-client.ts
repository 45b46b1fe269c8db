import { type Contract, endpointSubject, type InputOf, type OutputOf } from "@switchyard/schemas";
import type { CallOptionsInput } from "../options.js";
import { declaredBy, SettingsCache } from "../policy/settings-cache.js";
import type { CallTarget } from "./call-pipeline.js";

/** A typed caller for a contract: one method per endpoint. */
export type ContractClient<C extends Contract> = {
  readonly [K in keyof C["endpoints"] & string]: (
    input: InputOf<C["endpoints"][K]>,
    options?: CallOptionsInput,
  ) => Promise<OutputOf<C["endpoints"][K]>>;
};

export type Invoke = (
  target: CallTarget,
  input: unknown,
  options: CallOptionsInput | undefined,
) => Promise<unknown>;

/** Targets of every endpoint of a contract, resolved once. */
export function contractTargets(contract: Contract, prefix: string): Map<string, CallTarget> {
  const targets = new Map<string, CallTarget>();
  for (const [endpoint, spec] of Object.entries(contract.endpoints)) {
    targets.set(endpoint, {
      service: contract.name,
      endpoint,
      subject: endpointSubject(prefix, contract.name, endpoint),
      settings: new SettingsCache(contract.name, endpoint, declaredBy(spec)),
      output: spec.output,
    });
  }
  return targets;
}

/** A client over a contract's resolved targets; `invoke` makes each call. */
export function makeClient<C extends Contract>(
  targets: ReadonlyMap<string, CallTarget>,
  invoke: Invoke,
): ContractClient<C> {
  const client: Record<string, (input: unknown, options?: CallOptionsInput) => Promise<unknown>> = {};
  for (const [endpoint, target] of targets) {
    client[endpoint] = (input, options) => invoke(target, input, options);
  }
  return Object.freeze(client) as ContractClient<C>;
}
