import assert from "node:assert/strict";
import { test } from "node:test";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import {
  type DataPoint,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { MeshError } from "../errors.js";
import { MeshTelemetry, traceFields } from "./telemetry.js";

/** Collects on demand: what an exporter would be handed. */
class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const target = { service: "orders", endpoint: "create", subject: "mesh.svc.orders.create" };

function setup(tenantLabel = false, version = { now: 7 }) {
  const spans = new InMemorySpanExporter();
  const reader = new TestReader();
  const telemetry = new MeshTelemetry(
    {
      tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
      meterProvider: new MeterProvider({ readers: [reader] }),
      tenantLabel,
    },
    {
      breakers: () => [{ service: "orders", endpoint: "create", breaker: "open" }],
      policyVersion: () => version.now,
    },
  );
  return { telemetry, spans, reader };
}

/** Points of one metric by name. */
async function points(reader: MetricReader, name: string): Promise<DataPoint<unknown>[]> {
  const { resourceMetrics }: { resourceMetrics: ResourceMetrics } = await reader.collect();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics)
      if (m.descriptor.name === name) return m.dataPoints as DataPoint<unknown>[];
  }
  return [];
}

test("a call's CLIENT span carries the RPC and messaging attributes and ends with its code", () => {
  const { telemetry, spans } = setup();
  const span = telemetry.startClientSpan(target, "acme", ROOT_CONTEXT);
  assert.deepEqual(Object.keys(traceFields(span)).sort(), ["span_id", "trace_id"]);
  telemetry.endClientSpan(span, target, "acme", 3, new MeshError("UNAVAILABLE", "down"));
  const [done] = spans.getFinishedSpans();
  assert.ok(done);
  assert.equal(done.name, "orders/create");
  assert.equal(done.kind, SpanKind.CLIENT);
  assert.equal(done.attributes["rpc.method"], "orders/create");
  assert.equal(done.attributes["messaging.destination.name"], target.subject);
  assert.equal(done.attributes["mesh.tenant"], "acme");
  assert.equal(done.attributes["error.type"], "UNAVAILABLE");
  assert.equal(done.status.code, SpanStatusCode.ERROR);
});

test("a SERVER span leaves the status unset for a client error (4xx) and counts the attempt", () => {
  const { telemetry, spans } = setup();
  const request = { tenant: undefined, caller: undefined, callerVerified: false, attempt: 2 };
  const span = telemetry.startServerSpan(target, request, ROOT_CONTEXT);
  telemetry.endServerSpan(span, target, undefined, 3, new MeshError("INVALID_ARGUMENT", "bad"));
  const [done] = spans.getFinishedSpans();
  assert.ok(done);
  assert.equal(done.kind, SpanKind.SERVER);
  assert.equal(done.attributes["mesh.attempt"], 2);
  assert.equal(done.attributes["mesh.caller"], undefined);
  assert.equal(done.attributes["rpc.response.status_code"], "INVALID_ARGUMENT");
  assert.equal(done.status.code, SpanStatusCode.UNSET);
});

test("a SERVER span names its caller and whether the broker vouched for it", () => {
  const { telemetry, spans } = setup();
  for (const callerVerified of [true, false]) {
    const request = { tenant: "acme", caller: "gateway", callerVerified, attempt: 1 };
    telemetry.endServerSpan(
      telemetry.startServerSpan(target, request, ROOT_CONTEXT),
      target,
      "acme",
      1,
      undefined,
    );
  }
  assert.deepEqual(
    spans.getFinishedSpans().map((s) => [s.attributes["mesh.caller"], s.attributes["mesh.caller.verified"]]),
    [
      ["gateway", true],
      ["gateway", false],
    ],
  );
});

test("durations are recorded in seconds with the outcome as the status code", async () => {
  const { telemetry, reader } = setup();
  const request = { tenant: undefined, caller: undefined, callerVerified: false, attempt: 1 };
  const span = telemetry.startServerSpan(target, request, ROOT_CONTEXT);
  telemetry.endServerSpan(span, target, undefined, 250, undefined);
  const [point] = await points(reader, "rpc.server.call.duration");
  assert.ok(point);
  assert.equal(point.attributes["rpc.response.status_code"], "OK");
  assert.equal(point.attributes["error.type"], undefined);
  assert.equal((point.value as { sum: number }).sum, 0.25);
});

test("counters carry the decision, state or code they count; tenants label only when asked", async () => {
  const { telemetry, reader } = setup();
  telemetry.retried(target, "OVERLOADED", "acme");
  telemetry.retried(target, "OVERLOADED", "globex");
  telemetry.quotaDecision(target, "deny", "acme");
  telemetry.breakerChanged("orders", "create", "half-open");
  telemetry.shed(target, undefined);
  const [retries, ...more] = await points(reader, "mesh.client.retries");
  assert.equal(more.length, 0, "one series: no tenant label by default");
  assert.equal(retries?.value, 2);
  assert.equal(retries?.attributes["error.type"], "OVERLOADED");
  const [quota] = await points(reader, "mesh.quota.decisions");
  assert.equal(quota?.attributes["mesh.quota.decision"], "deny");
  const [breaker] = await points(reader, "mesh.breaker.transitions");
  assert.equal(breaker?.attributes["mesh.breaker.state"], "half-open");
  assert.equal((await points(reader, "mesh.server.sheds"))[0]?.value, 1);

  const labelled = setup(true);
  labelled.telemetry.retried(target, "OVERLOADED", "acme");
  labelled.telemetry.retried(target, "OVERLOADED", "globex");
  const tenants = (await points(labelled.reader, "mesh.client.retries")).map(
    (p) => p.attributes["mesh.tenant"],
  );
  assert.deepEqual(tenants.sort(), ["acme", "globex"]);
});

test("gauges read the breakers and the policy version on collection, until close()", async () => {
  const version = { now: 7 };
  const { telemetry, reader } = setup(false, version);
  assert.equal((await points(reader, "mesh.breaker.state"))[0]?.value, 2);
  assert.equal((await points(reader, "mesh.policy.version"))[0]?.value, 7);
  telemetry.activeRequests(target, 1);
  telemetry.activeRequests(target, 1);
  telemetry.activeRequests(target, -1);
  assert.equal((await points(reader, "mesh.server.active_requests"))[0]?.value, 1);
  telemetry.close();
  version.now = 8;
  const after = await points(reader, "mesh.policy.version");
  assert.ok(
    after.every((p) => p.value !== 8),
    "the source is not read after close()",
  );
});

test("metric attribute sets are reused: the same object for the same method and outcome", async () => {
  const { telemetry, reader } = setup();
  for (let i = 0; i < 3; i++) telemetry.retried(target, "UNAVAILABLE", undefined);
  const series = await points(reader, "mesh.client.retries");
  assert.equal(series.length, 1);
  assert.equal(series[0]?.value, 3);
});
