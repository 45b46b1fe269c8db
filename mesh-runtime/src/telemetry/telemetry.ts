import {
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  isSpanContextValid,
  type MeterProvider,
  type MetricOptions,
  metrics,
  type ObservableGauge,
  type ObservableResult,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
  type UpDownCounter,
} from "@opentelemetry/api";
import { type CallStats, LATENCY_BOUNDS_MS } from "@switchyard/schemas";
import { BoundedCache } from "../bounded-cache.js";
import type { MeshError } from "../errors.js";
import type { BreakerState } from "../resilience/circuit-breaker.js";
import { RUNTIME_VERSION } from "../version.js";

const SCOPE = "@switchyard/runtime";
const RPC_SYSTEM = "switchyard";
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };
const BUCKETS_S = LATENCY_BOUNDS_MS.map((ms) => ms / 1_000);
const MAX_ATTRIBUTE_SETS = 10_000;
const CLIENT_SPAN = Object.freeze({ kind: SpanKind.CLIENT });
const SERVER_SPAN = Object.freeze({ kind: SpanKind.SERVER });

/** What every call or request on one target names the same way, made once per target object. */
interface TargetNames {
  readonly spanName: string;
  /** Metric attributes without an outcome, and with `OK`, for calls without a tenant label. */
  readonly plain: Attributes;
  readonly ok: Attributes;
}

/** The runtime's metrics: name, unit, description. Names are part of the documented telemetry. */
const METRICS = {
  clientDuration: ["rpc.client.call.duration", "s", "Duration of logical calls made, retries included"],
  serverDuration: ["rpc.server.call.duration", "s", "Duration of requests handled, from arrival to reply"],
  retries: ["mesh.client.retries", "{retry}", "Attempts after the first, by the code that was retried"],
  hedges: ["mesh.client.hedges", "{hedge}", "Hedged attempts sent while an earlier attempt had not answered"],
  ejections: [
    "mesh.client.outlier_ejections",
    "{ejection}",
    "Instances this caller ejected from balancing for their failure rate",
  ],
  sheds: ["mesh.server.sheds", "{request}", "Requests refused with OVERLOADED by the concurrency limit"],
  quota: ["mesh.quota.decisions", "{decision}", "Quota checks by decision (admit, deny, unavailable)"],
  breakerChanges: [
    "mesh.breaker.transitions",
    "{transition}",
    "Circuit breaker state changes, by the state entered",
  ],
  routed: ["mesh.client.routed", "{call}", "Calls a route or a pin sent to one major version"],
  mirrored: [
    "mesh.client.mirrored",
    "{request}",
    "Mirrored copies of calls, by version and outcome (replies discarded)",
  ],
  inFlight: ["mesh.server.active_requests", "{request}", "Requests being handled"],
  breakerState: [
    "mesh.breaker.state",
    "1",
    "Circuit breaker state per target endpoint: 0 closed, 1 half-open, 2 open",
  ],
  policyVersion: ["mesh.policy.version", "1", "Version of the mesh policy this process runs"],
} as const satisfies Record<string, readonly [string, string, string]>;

/** A metric's name and options, ready to spread into `meter.create…()`. */
function metric(key: keyof typeof METRICS): [string, MetricOptions] {
  const [name, unit, description] = METRICS[key];
  const options: MetricOptions = { unit, description };
  // latency histograms share the STATS buckets, so both views agree
  if (unit === "s") options.advice = { explicitBucketBoundaries: BUCKETS_S };
  return [name, options];
}

/** Span events and their attributes: the names are part of the documented telemetry. */
export const SpanEvent = {
  Retry: "mesh.retry",
  CircuitOpen: "mesh.circuit_open",
  BreakerState: "mesh.breaker.state_change",
  RetryBudgetExhausted: "mesh.retry_budget_exhausted",
  Shed: "mesh.shed",
  Quota: "mesh.quota",
  Fault: "mesh.fault_injected",
  Replay: "mesh.replay",
  Hedge: "mesh.hedge",
  OutlierEjected: "mesh.outlier_ejected",
} as const;

export type QuotaDecision = "admit" | "deny" | "unavailable";

/** Where a span runs: the (service, endpoint) pair and its subject. */
export interface SpanTarget {
  readonly service: string;
  readonly endpoint: string;
  readonly subject: string;
}

/** What a SERVER span tells of its request (the request's headers, as read). */
export interface ServerSpanRequest {
  readonly tenant: string | undefined;
  readonly caller: string | undefined;
  readonly callerVerified: boolean;
  readonly attempt: number;
}

/** What the telemetry reads from the mesh on collection. */
export interface TelemetrySource {
  breakers(): Iterable<CallStats>;
  policyVersion(): number;
}

export interface TelemetryOptions {
  readonly tracerProvider?: TracerProvider | undefined;
  readonly meterProvider?: MeterProvider | undefined;
  /** Adds `mesh.tenant` to metric attributes: one series per tenant, so off by default. */
  readonly tenantLabel: boolean;
}

/** Log fields that tie a line to its span. */
export function traceFields(span: Span): { trace_id?: string; span_id?: string } {
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/**
 * The runtime's OpenTelemetry instrumentation, on `@opentelemetry/api` only: nothing is recorded
 * or exported unless the application installs an SDK (or passes providers in the mesh options).
 * Names follow the RPC and messaging conventions; the mesh's own decisions are `mesh.*`.
 */
export class MeshTelemetry {
  readonly tracer: Tracer;
  readonly #tenantLabel: boolean;
  readonly #clientDuration: Histogram;
  readonly #serverDuration: Histogram;
  readonly #retries: Counter;
  readonly #hedges: Counter;
  readonly #ejections: Counter;
  readonly #sheds: Counter;
  readonly #quota: Counter;
  readonly #breakerChanges: Counter;
  readonly #routed: Counter;
  readonly #mirrored: Counter;
  readonly #inFlight: UpDownCounter;
  readonly #breakerState: ObservableGauge;
  readonly #policyVersion: ObservableGauge;
  readonly #observeBreakers: (result: ObservableResult) => void;
  readonly #observePolicy: (result: ObservableResult) => void;
  // metric attribute sets are reused: one object per (method, outcome[, tenant])
  readonly #attributes = new BoundedCache<string, BoundedCache<string, BoundedCache<string, Attributes>>>(
    MAX_ATTRIBUTE_SETS,
  );
  readonly #spanAttributeSets = new BoundedCache<string, Attributes>(MAX_ATTRIBUTE_SETS);
  // targets are long-lived objects (a served endpoint, a call target): their names are kept on them
  readonly #names = new WeakMap<SpanTarget, TargetNames>();

  constructor(options: TelemetryOptions, source: TelemetrySource) {
    this.tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE, RUNTIME_VERSION);
    this.#tenantLabel = options.tenantLabel;
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE, RUNTIME_VERSION);
    this.#clientDuration = meter.createHistogram(...metric("clientDuration"));
    this.#serverDuration = meter.createHistogram(...metric("serverDuration"));
    this.#retries = meter.createCounter(...metric("retries"));
    this.#hedges = meter.createCounter(...metric("hedges"));
    this.#ejections = meter.createCounter(...metric("ejections"));
    this.#sheds = meter.createCounter(...metric("sheds"));
    this.#quota = meter.createCounter(...metric("quota"));
    this.#breakerChanges = meter.createCounter(...metric("breakerChanges"));
    this.#routed = meter.createCounter(...metric("routed"));
    this.#mirrored = meter.createCounter(...metric("mirrored"));
    this.#inFlight = meter.createUpDownCounter(...metric("inFlight"));
    this.#breakerState = meter.createObservableGauge(...metric("breakerState"));
    this.#policyVersion = meter.createObservableGauge(...metric("policyVersion"));
    this.#observeBreakers = (result) => {
      for (const b of source.breakers()) {
        result.observe(BREAKER_VALUE[b.breaker], this.#attrs(b.service, b.endpoint, undefined, undefined));
      }
    };
    this.#observePolicy = (result) => result.observe(source.policyVersion());
    this.#breakerState.addCallback(this.#observeBreakers);
    this.#policyVersion.addCallback(this.#observePolicy);
  }

  /** The CLIENT span of one logical call; the attempts' server spans are its children. */
  startClientSpan(target: SpanTarget, tenant: string | undefined, parent: Context): Span {
    return this.#startSpan(CLIENT_SPAN, target, tenant, parent);
  }

  /** The SERVER span of one handled request (one attempt), with who called and whether verified. */
  startServerSpan(target: SpanTarget, request: ServerSpanRequest, parent: Context): Span {
    const span = this.#startSpan(SERVER_SPAN, target, request.tenant, parent);
    if (span.isRecording()) {
      span.setAttribute("mesh.attempt", request.attempt);
      if (request.caller !== undefined) {
        span.setAttribute("mesh.caller", request.caller);
        span.setAttribute("mesh.caller.verified", request.callerVerified);
      }
    }
    return span;
  }

  /** Ends a call's span and records its duration. */
  endClientSpan(
    span: Span,
    target: SpanTarget,
    tenant: string | undefined,
    elapsedMs: number,
    error: MeshError | undefined,
  ): void {
    endSpan(span, error, true);
    this.#clientDuration.record(elapsedMs / 1_000, this.#outcomeAttrs(target, error, tenant));
  }

  /** Ends a request's span and records its duration; client errors (4xx) leave the status unset. */
  endServerSpan(
    span: Span,
    target: SpanTarget,
    tenant: string | undefined,
    elapsedMs: number,
    error: MeshError | undefined,
  ): void {
    endSpan(span, error, error !== undefined && error.status >= 500);
    this.#serverDuration.record(elapsedMs / 1_000, this.#outcomeAttrs(target, error, tenant));
  }

  retried(target: SpanTarget, code: string, tenant: string | undefined): void {
    this.#retries.add(1, this.#attrs(target.service, target.endpoint, code, tenant));
  }

  hedged(target: SpanTarget, tenant: string | undefined): void {
    this.#hedges.add(1, this.#attrs(target.service, target.endpoint, undefined, tenant));
  }

  outlierEjected(target: SpanTarget): void {
    this.#ejections.add(1, this.#attrs(target.service, target.endpoint, undefined, undefined));
  }

  shed(target: SpanTarget, tenant: string | undefined): void {
    this.#sheds.add(1, this.#attrs(target.service, target.endpoint, undefined, tenant));
  }

  quotaDecision(target: SpanTarget, decision: QuotaDecision, tenant: string | undefined): void {
    this.#quota.add(1, this.#attrs(target.service, target.endpoint, `quota:${decision}`, tenant));
  }

  breakerChanged(service: string, endpoint: string, state: BreakerState): void {
    this.#breakerChanges.add(1, this.#attrs(service, endpoint, `breaker:${state}`, undefined));
  }

  /** A call sent to one major version by a route or a chain's pin. */
  routed(target: SpanTarget, major: number, tenant: string | undefined): void {
    this.#routed.add(1, this.#attrs(target.service, target.endpoint, `version:${major}`, tenant));
  }

  /** A mirrored copy settled: `outcome` is `OK` or the code it failed with. */
  mirrored(target: SpanTarget, major: number, outcome: string): void {
    this.#mirrored.add(
      1,
      this.#attrs(target.service, target.endpoint, `mirror:${major}:${outcome}`, undefined),
    );
  }

  activeRequests(target: SpanTarget, delta: 1 | -1): void {
    this.#inFlight.add(delta, this.#namesOf(target).plain);
  }

  /** Stops the observable callbacks (the mesh is closing). */
  close(): void {
    this.#breakerState.removeCallback(this.#observeBreakers);
    this.#policyVersion.removeCallback(this.#observePolicy);
  }

  #startSpan(
    options: { readonly kind: SpanKind },
    target: SpanTarget,
    tenant: string | undefined,
    parent: Context,
  ): Span {
    const span = this.tracer.startSpan(this.#namesOf(target).spanName, options, parent);
    if (span.isRecording()) {
      span.setAttributes(this.#spanAttributes(target));
      if (tenant !== undefined) span.setAttribute("mesh.tenant", tenant);
    }
    return span;
  }

  /** The attributes every span of a target starts with, made once per subject. */
  #spanAttributes(target: SpanTarget): Attributes {
    let attrs = this.#spanAttributeSets.get(target.subject);
    if (attrs === undefined) {
      attrs = Object.freeze({
        "rpc.system.name": RPC_SYSTEM,
        "rpc.method": `${target.service}/${target.endpoint}`,
        "messaging.system": "nats",
        "messaging.destination.name": target.subject,
        "messaging.destination.template": "{prefix}.svc.{service}.{endpoint}",
      });
      this.#spanAttributeSets.set(target.subject, attrs);
    }
    return attrs;
  }

  /** The names of a target, made on its first call or request. */
  #namesOf(target: SpanTarget): TargetNames {
    let names = this.#names.get(target);
    if (names === undefined) {
      names = {
        spanName: `${target.service}/${target.endpoint}`,
        plain: this.#attrs(target.service, target.endpoint, undefined, undefined),
        ok: this.#attrs(target.service, target.endpoint, "OK", undefined),
      };
      this.#names.set(target, names);
    }
    return names;
  }

  /** The attributes of a finished call or request: the target's own for a success without tenant label. */
  #outcomeAttrs(target: SpanTarget, error: MeshError | undefined, tenant: string | undefined): Attributes {
    if (error === undefined && (!this.#tenantLabel || tenant === undefined)) return this.#namesOf(target).ok;
    return this.#attrs(target.service, target.endpoint, error?.code ?? "OK", tenant);
  }

  /**
   * One frozen attribute set per (method, outcome, tenant). `outcome` is a code (response status),
   * `quota:<decision>`, `breaker:<state>`, `version:<major>` or `mirror:<major>:<code>`.
   */
  #attrs(
    service: string,
    endpoint: string,
    outcome: string | undefined,
    tenant: string | undefined,
  ): Attributes {
    // nested caches keyed by the strings at hand: no key is built on the hot path
    const byOutcome = this.#attributes.getOrCreate(service, newCache).getOrCreate(endpoint, newCache);
    const labelTenant = this.#tenantLabel && tenant !== undefined;
    const key = labelTenant ? `${outcome ?? ""}|${tenant}` : (outcome ?? "");
    // a tenant label can make many: bounded like the rest
    let attrs = byOutcome.get(key);
    if (attrs === undefined) {
      attrs = metricAttributes(service, endpoint, outcome, labelTenant ? tenant : undefined);
      byOutcome.set(key, attrs);
    }
    return attrs;
  }
}

// one function, not a closure per call: the hot path allocates nothing once the caches are warm
function newCache<V>(): BoundedCache<string, V> {
  return new BoundedCache(MAX_ATTRIBUTE_SETS);
}

/** The attributes of one metric point; `outcome` as for `#attrs`. */
function metricAttributes(
  service: string,
  endpoint: string,
  outcome: string | undefined,
  tenant: string | undefined,
): Attributes {
  const a: Attributes = {
    "rpc.system.name": RPC_SYSTEM,
    "rpc.service": service,
    "rpc.method": `${service}/${endpoint}`,
  };
  if (outcome?.startsWith("quota:")) a["mesh.quota.decision"] = outcome.slice(6);
  else if (outcome?.startsWith("breaker:")) a["mesh.breaker.state"] = outcome.slice(8);
  else if (outcome?.startsWith("version:")) a["mesh.version.major"] = Number(outcome.slice(8));
  else if (outcome?.startsWith("mirror:")) {
    const [major = "", code = ""] = outcome.slice(7).split(":");
    a["mesh.version.major"] = Number(major);
    a["rpc.response.status_code"] = code;
    if (code !== "OK") a["error.type"] = code;
  } else if (outcome !== undefined) {
    a["rpc.response.status_code"] = outcome;
    if (outcome !== "OK") a["error.type"] = outcome;
  }
  if (tenant !== undefined) a["mesh.tenant"] = tenant;
  return Object.freeze(a);
}

function endSpan(span: Span, error: MeshError | undefined, markError: boolean): void {
  if (span.isRecording()) {
    if (error === undefined) span.setAttribute("rpc.response.status_code", "OK");
    else {
      span.setAttributes({
        "rpc.response.status_code": error.code,
        "error.type": error.code,
        "mesh.error.status": error.status,
      });
      if (markError)
        span.setStatus({ code: SpanStatusCode.ERROR, message: `${error.code}: ${error.message}` });
    }
  }
  span.end();
}
