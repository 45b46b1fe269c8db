// Issue 19: one trace across TypeScript → sidecar → Python → sidecar → TypeScript. The Python app
// records no spans of its own: it passes on the `traceparent` (and `Mesh-Request-Id`) its sidecar
// gave it, so the sidecar's CLIENT span of its call out is a child of the SERVER span that
// forwarded the request, and the TypeScript callee's SERVER span a child of that.
import assert from "node:assert/strict";
import { it } from "node:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { SyncContextManager } from "@switchyard/sidecar";
import { startTelemetry } from "@switchyard/telemetry";
import { waitFor } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import { pythonBehindSidecar, tsInventory } from "./fixtures/sidecar-app.js";
import { serializeSpans } from "./fixtures/traced-contracts.js";

it("one trace: TypeScript → sidecar → Python → sidecar → TypeScript; a call out from outside a request joins its traceparent", async (t) => {
  // one SDK for every mesh in this process, the sidecar's included (before they connect), with
  // the context manager `switchyard sidecar` gives it (AsyncLocalStorage would carry more)
  const exporter = new InMemorySpanExporter();
  const telemetry = await startTelemetry({
    serviceName: "sidecar-trace",
    metricsPort: false,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    contextManager: new SyncContextManager(),
  });
  t.after(() => telemetry.shutdown());
  const nats = await startNats(t, { jetstream: true });
  await tsInventory(t, nats.url);
  const setup = await pythonBehindSidecar(t, nats.url);
  const orders = await meshFor(t, nats.url, "orders");
  exporter.reset();

  await orders.call("recommendations", "suggest", { customerId: "c-1", limit: 1 });

  const find = (kind: SpanKind, method: string) => () =>
    serializeSpans(exporter.getFinishedSpans()).filter(
      (s) => s.kind === kind && s.attributes["rpc.method"] === method,
    );
  const stockServers = find(SpanKind.SERVER, "inventory/stock");
  await waitFor("inventory's SERVER spans", () => stockServers().length > 0);
  const [caller] = find(SpanKind.CLIENT, "recommendations/suggest")();
  const [sidecarServer] = find(SpanKind.SERVER, "recommendations/suggest")();
  const sidecarClients = find(SpanKind.CLIENT, "inventory/stock")();
  assert.ok(caller && sidecarServer, "the caller's and the sidecar's spans of suggest");
  assert.ok(sidecarClients.length > 0, "the sidecar's CLIENT spans of the app's calls");
  const traceIds = new Set(
    [caller, sidecarServer, ...sidecarClients, ...stockServers()].map((s) => s.traceId),
  );
  assert.deepEqual([...traceIds], [caller.traceId], "every span in one trace");
  assert.equal(sidecarServer.parentSpanId, caller.spanId);
  for (const client of sidecarClients) assert.equal(client.parentSpanId, sidecarServer.spanId);
  const clientIds = new Set(sidecarClients.map((s) => s.spanId));
  for (const server of stockServers()) assert.ok(clientIds.has(server.parentSpanId as string));

  // a call out made outside any request joins the trace its traceparent names
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const answer = await fetch(`${setup.sidecar.url}/v1/call/inventory/stock`, {
    method: "POST",
    headers: { "content-type": "application/json", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    body: JSON.stringify({ sku: "WIDGET-1" }),
  });
  assert.equal(answer.status, 200);
  await waitFor("inventory's span in the app's trace", () =>
    stockServers().some((s) => s.traceId === traceId),
  );
  const [outside] = find(SpanKind.CLIENT, "inventory/stock")().filter((s) => s.traceId === traceId);
  assert.equal(outside?.parentSpanId, "00f067aa0ba902b7");
});
