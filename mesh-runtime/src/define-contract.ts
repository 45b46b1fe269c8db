import { type Contract, checkContract, type EndpointSpecs } from "@switchyard/schemas";
import { invalidArgument } from "./options.js";

/**
 * Declares a service contract: its name and endpoints (`^[A-Za-z0-9_-]+$`), a semver version, and
 * each endpoint's input and output schemas. Throws `INVALID_ARGUMENT` listing every problem.
 */
export function defineContract<const E extends EndpointSpecs>(contract: {
  name: string;
  version: string;
  description?: string;
  endpoints: E;
}): Contract<E> {
  const checked = checkContract(contract);
  if (!checked.ok) throw invalidArgument("contract", checked.error);
  return checked.contract;
}
