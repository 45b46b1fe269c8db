// The controller package: its contract (for callers such as the CLI) and a way to run it.

export type { InstanceStatus, PolicyChange, PolicyDocument, PolicyMeta } from "./contract.js";
export { controllerContract } from "./contract.js";
export type { Controller, ControllerOptions } from "./controller.js";
export { startController } from "./controller.js";
