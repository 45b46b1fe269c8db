// `@switchyard/runtime/telemetry`: the OpenTelemetry SDK set-up for services. Kept apart from the
// library entry point, which depends on `@opentelemetry/api` only.

export type { StartTelemetryOptions, Telemetry } from "./start-telemetry.js";
export { startTelemetry } from "./start-telemetry.js";
