// The public API of @switchyard/sidecar: everything else in src/ is internal.

export type { ContractFileInput, LoadedContract } from "./contract-file.js";
export { contractFileOf, contractFromJson, readContractFile } from "./contract-file.js";
export type { ResolvedSidecarOptions, SidecarOptionsInput as SidecarOptions } from "./options.js";
export { parseSidecarOptions as checkSidecarOptions } from "./options.js";
export type { Sidecar } from "./sidecar.js";
export { startSidecar } from "./sidecar.js";
export { SyncContextManager } from "./sync-context.js";
