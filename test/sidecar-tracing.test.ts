// Issue 19: one trace across TypeScript → sidecar → Python → sidecar → TypeScript. The Python app
// records no spans of its own: it passes on the `traceparent` (and `Mesh-Request-Id`) its sidecar
// gave it, so the sidecar's CLIENT span of its call out is a child of the SERVER span that
// forwarded the request, and the TypeScript callee's SERVER span a child of that.
import assert from "node:assert/strict";
import { it } from "node:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { startTelemetry } from "@switchyard/runtime/telemetry";
import { waitFor } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import { pythonBehindSidecar, tsInventory } from "./fixtures/sidecar-app.js";
import { serializeSpans } from "./fixtures/traced-contracts.js";

it("one trace: TypeScript → sidecar → Python → sidecar → TypeScript", async (t) => {
  // one SDK for every mesh in this process, the sidecar's included (before they connect)
  const exporter = new InMemorySpanExporter();
  const telemetry = await startTelemetry({
    serviceName: "sidecar-trace",
    metricsPort: false,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  t.after(() => telemetry.shutdown());
  const nats = await startNats(t, { jetstream: true });
  await tsInventory(t, nats.url);
  await pythonBehindSidecar(t, nats.url);
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
});
