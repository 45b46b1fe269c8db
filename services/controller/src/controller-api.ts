import type { z } from "zod";
import type { controllerContract } from "./contract.js";

type Endpoints = (typeof controllerContract)["endpoints"];

/**
 * What the controller does, one function per endpoint of its contract. The mesh serves it, and the
 * dashboard calls the same functions: one validated path for every change to the policy.
 */
export type ControllerApi = {
  readonly [K in keyof Endpoints]: (
    input: z.output<Endpoints[K]["input"]>,
  ) => Promise<z.input<Endpoints[K]["output"]>>;
};
