// `@switchyard/telemetry`: the OpenTelemetry SDK set-up for services. Kept apart from the runtime,
// which depends on `@opentelemetry/api` only (a library must not configure the SDK).

export type { StartTelemetryOptions, Telemetry } from "./start-telemetry.js";
export { startTelemetry } from "./start-telemetry.js";
