import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { NoopSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { MeshError } from "@switchyard/runtime";
import { issueDetails, ServiceName } from "@switchyard/schemas";
import { z } from "zod";

const DEFAULT_METRICS_PORT = 9464;

type ContextManager = NonNullable<NonNullable<ConstructorParameters<typeof NodeSDK>[0]>["contextManager"]>;

const TelemetryOptions = z.strictObject({
  /** `service.name` of everything this process reports. */
  serviceName: ServiceName,
  /**
   * Port of the Prometheus endpoint (`/metrics`); default `MESH_METRICS_PORT` from the
   * environment, else 9464 (skipped with a warning when taken). `false` serves none.
   */
  metricsPort: z.union([z.number().int().min(1).max(65_535), z.literal(false)]).optional(),
  /**
   * Interface the endpoint listens on; default `MESH_METRICS_HOST` from the environment, else
   * loopback only (a container sets 0.0.0.0 so Prometheus can scrape it).
   */
  metricsHost: z.string().min(1).optional(),
  /**
   * Where spans go instead of the `OTEL_*` environment (tests pass an in-memory exporter's
   * processor).
   */
  spanProcessors: z.array(z.custom<SpanProcessor>((v) => typeof v === "object" && v !== null)).optional(),
  /**
   * The context manager to install instead of the SDK's default (`AsyncLocalStorage`, whose
   * promise hooks tax every async step of the process on Node 20): the sidecar passes its
   * synchronous one.
   */
  contextManager: z.custom<ContextManager>((v) => typeof v === "object" && v !== null).optional(),
});
export type StartTelemetryOptions = z.input<typeof TelemetryOptions>;

/** A running SDK: `shutdown()` flushes what is pending and closes the endpoint. */
export interface Telemetry {
  /** `http://host:port/metrics`, or undefined when no endpoint is served. */
  readonly metricsUrl: string | undefined;
  shutdown(): Promise<void>;
}

/** True when the `OTEL_*` environment asks for a trace exporter. */
function tracesConfigured(env: NodeJS.ProcessEnv): boolean {
  return Boolean(
    env["OTEL_TRACES_EXPORTER"] ||
      env["OTEL_EXPORTER_OTLP_ENDPOINT"] ||
      env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"],
  );
}

/**
 * Starts the OpenTelemetry Node SDK for a service: spans exported as the standard `OTEL_*`
 * variables say (OTLP when an endpoint is set; otherwise recorded for trace ids in logs but not
 * exported, rather than failing against a collector that is not there), W3C trace context and
 * baggage propagation, and metrics on a Prometheus endpoint. Call it before `connectMesh()`:
 * the mesh takes its meter when it connects.
 */
export async function startTelemetry(input: StartTelemetryOptions): Promise<Telemetry> {
  const parsed = TelemetryOptions.safeParse(input);
  if (!parsed.success) {
    throw new MeshError("INVALID_ARGUMENT", `invalid telemetry options: ${z.prettifyError(parsed.error)}`, {
      details: { issues: issueDetails(parsed.error) },
    });
  }
  const options = parsed.data;
  const envPort = process.env["MESH_METRICS_PORT"];
  const port =
    options.metricsPort ?? (envPort === undefined || envPort === "" ? DEFAULT_METRICS_PORT : Number(envPort));
  if (port !== false && !(Number.isInteger(port) && port > 0 && port < 65_536)) {
    throw new MeshError("INVALID_ARGUMENT", `MESH_METRICS_PORT is not a port: ${envPort}`);
  }
  const host = options.metricsHost ?? (process.env["MESH_METRICS_HOST"] || "127.0.0.1");
  const explicit = options.metricsPort !== undefined || Boolean(envPort);
  let prometheus =
    port === false ? undefined : new PrometheusExporter({ port, host, preventServerStart: true });
  try {
    await prometheus?.startServer();
  } catch (cause) {
    // a port asked for must be had; the default one is only a convenience (a second instance on
    // the same host would otherwise fail to start)
    if (explicit) throw new MeshError("UNAVAILABLE", `cannot serve metrics on ${host}:${port}`, { cause });
    process.emitWarning(`metrics port ${host}:${port} is taken: no /metrics; set MESH_METRICS_PORT`, {
      code: "SWITCHYARD_METRICS_PORT",
    });
    prometheus = undefined;
  }
  const spanProcessors =
    options.spanProcessors ?? (tracesConfigured(process.env) ? undefined : [new NoopSpanProcessor()]);
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    ...(spanProcessors === undefined ? {} : { spanProcessors }),
    ...(options.contextManager === undefined ? {} : { contextManager: options.contextManager }),
    metricReaders: prometheus === undefined ? [] : [prometheus],
    // the runtime logs with pino: no OTLP log pipeline unless the application builds one
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  return {
    metricsUrl: prometheus === undefined ? undefined : `http://${host}:${port}/metrics`,
    shutdown: () => sdk.shutdown(),
  };
}
