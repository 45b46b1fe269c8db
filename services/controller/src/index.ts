// The controller package: its contract (for callers such as the CLI), a way to run it, and the
// model that turns $SRV.STATS replies into per-endpoint and per-edge figures (top, the dashboard),
// and discovery gathering that works on an open broker and across per-identity accounts.

export type { InstanceStatus, PolicyChange, PolicyDocument, PolicyMeta, RolloutStatus } from "./contract.js";
export { controllerContract } from "./contract.js";
export type { Controller, ControllerOptions } from "./controller.js";
export { startController } from "./controller.js";
export type { PolicyView, ServicePage } from "./dashboard/api.js";
export type { HistoryPoint, InstanceRow, QuotaRow, Snapshot } from "./dashboard/collector.js";
export type { Gathered } from "./dashboard/discovery-fan-out.js";
export { discoveryTargets, gatherDiscovery } from "./dashboard/discovery-fan-out.js";
export type {
  CallerSample,
  CallerSide,
  CallerSideFigures,
  EdgeRow,
  EdgeSample,
  EndpointRow,
  Figures,
  Sample,
  StatsReading,
} from "./stats-model.js";
export {
  breakersOf,
  callerSideOf,
  edgeRowsOf,
  edgesOf,
  quantile,
  readingOf,
  refreshOf,
  rowsOf,
  sampleOf,
} from "./stats-model.js";
export type { VersionRow, VersionSample } from "./version-traffic.js";
export { versionRowsOf, versionSampleOf } from "./version-traffic.js";
