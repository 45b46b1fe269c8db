// The public API of @switchyard/runtime: everything else in src/ is internal.

export type { Contract, ErrorCode } from "@switchyard/schemas";
export type { ContractClient } from "./client/typed-client.js";
export { defineContract } from "./define-contract.js";
export type { MeshErrorOptions } from "./errors.js";
export { isExpectedRefusal, isMeshError, MeshError } from "./errors.js";
export type { Handlers, Mesh } from "./mesh.js";
export { connectMesh } from "./mesh.js";
export type { CallOptionsInput as CallOptions, MeshOptionsInput as MeshOptions } from "./options.js";
export type { HandlerContext } from "./server/context.js";
export type { Handler } from "./server/request-pipeline.js";
export type { ServiceHandle } from "./server/service.js";
export type { DrainOnSignalsOptions } from "./shutdown.js";
export { drainOnSignals } from "./shutdown.js";
export { senderAccount } from "./wire/request-info.js";
