// Issue 6: one trace across processes (a → b → c), retries and errors visible on the spans, and
// every log line of a request carrying its span's trace id.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { isMeshError, MeshError } from "@switchyard/runtime";
import { echoContract } from "./fixtures/contracts.js";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { captureLogs, delay, meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import { ServerProcess, scratchDir } from "./fixtures/processes.js";
import { hopB, type SpanRecord, serializeSpans } from "./fixtures/traced-contracts.js";

function children(spans: SpanRecord[], parent: SpanRecord): SpanRecord[] {
  return spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);
}

function only<T>(items: T[], what: string): T {
  assert.equal(items.length, 1, `expected one ${what}, got ${items.length}`);
  return items[0] as T;
}

describe("tracing", () => {
  it("a 3-hop call is one trace across processes, with retries as events and error codes on spans; logs carry the trace id", async (t) => {
    const nats = await startNats(t);
    const outDir = scratchDir(t, "traces");
    const hops = ["b", "c"].map(
      (hop) =>
        new ServerProcess(process.execPath, ["--import", "tsx", "test/fixtures/traced-hop.ts"], {
          ...process.env,
          HOP: hop,
          OUT_DIR: outDir,
          NATS_URL: nats.url,
        }),
    );
    for (const p of hops) {
      p.start();
      t.after(() => p.kill());
    }
    for (const p of hops) await eventually(() => assert.ok(p.output.includes("ready"), p.output), 20_000, 50);

    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const a = await meshFor(t, nats.url, "hop-a", { telemetry: { tracerProvider: provider } });
    const client = a.client(hopB);
    assert.deepEqual(await client.relay({ mode: "ok" }), { trail: ["b", "c"] });
    assert.deepEqual(await client.relay({ mode: "flaky" }), { trail: ["b", "c"] });
    const boom = await client.relay({ mode: "boom" }).catch((e: unknown) => e);
    assert.ok(isMeshError(boom) && boom.code === "INTERNAL", String(boom));
    for (const p of hops) await p.stop();

    const local = serializeSpans(exporter.getFinishedSpans());
    const remote = ["b", "c"].flatMap(
      (hop) => JSON.parse(readFileSync(join(outDir, `${hop}-spans.json`), "utf8")) as SpanRecord[],
    );
    const spans = [...local, ...remote];
    assert.equal(local.length, 3, "one CLIENT span per call in a");
    const [ok, flaky, failed] = local as [SpanRecord, SpanRecord, SpanRecord];

    // ok: a CLIENT → b SERVER → b CLIENT → c SERVER, one trace
    for (const root of local) {
      assert.equal(root.kind, SpanKind.CLIENT);
      assert.equal(root.parentSpanId, undefined);
      assert.equal(root.name, "hop-b/relay");
      assert.equal(root.attributes["messaging.system"], "nats");
      assert.equal(root.attributes["rpc.method"], "hop-b/relay");
      assert.equal(root.attributes["messaging.destination.name"], "mesh.svc.hop-b.relay");
    }
    assert.equal(spans.filter((s) => s.traceId === ok.traceId).length, 4);
    const bServer = only(children(spans, ok), "b server span");
    assert.equal(bServer.kind, SpanKind.SERVER);
    assert.equal(bServer.attributes["mesh.attempt"], 1);
    const bClient = only(children(spans, bServer), "b client span");
    assert.equal(bClient.kind, SpanKind.CLIENT);
    assert.equal(bClient.name, "hop-c/work");
    const cServer = only(children(spans, bClient), "c server span");
    assert.equal(cServer.kind, SpanKind.SERVER);
    assert.equal(cServer.attributes["rpc.response.status_code"], "OK");

    // flaky: c's first attempt fails, b retries; both attempts are server spans under b's call
    const fbClient = only(children(spans, only(children(spans, flaky), "b server span")), "b client span");
    const attempts = children(spans, fbClient).sort(
      (x, y) => Number(x.attributes["mesh.attempt"]) - Number(y.attributes["mesh.attempt"]),
    );
    assert.deepEqual(
      attempts.map((s) => [s.attributes["mesh.attempt"], s.attributes["rpc.response.status_code"]]),
      [
        [1, "UNAVAILABLE"],
        [2, "OK"],
      ],
    );
    assert.equal(attempts[0]?.status.code, SpanStatusCode.ERROR);
    const retry = fbClient.events.find((e) => e.name === "mesh.retry");
    assert.ok(retry, "the retry is an event on the call's span");
    assert.equal(retry.attributes["mesh.attempt"], 2);
    assert.equal(retry.attributes["error.type"], "UNAVAILABLE");

    // boom: INTERNAL is retryable on idempotent endpoints, so a tries b 3 times and each b tries
    // c 3 times: 1 + 3 × (b server + b client + 3 c servers) spans, every one carrying the code
    const failedTrace = spans.filter((s) => s.traceId === failed.traceId);
    assert.equal(failedTrace.length, 16);
    for (const s of failedTrace) {
      assert.equal(s.attributes["error.type"], "INTERNAL", `${s.name} kind ${s.kind}`);
      assert.equal(s.status.code, SpanStatusCode.ERROR);
    }

    // logs: every request-scoped line carries the trace and span of its request
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    let checked = 0;
    for (const hop of ["b", "c"]) {
      const lines = readFileSync(join(outDir, `${hop}.log`), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const line of lines.filter((l) => l["endpoint"] !== undefined)) {
        const span = byId.get(line["span_id"] as string);
        assert.ok(span, `log line without its span: ${JSON.stringify(line)}`);
        assert.equal(line["trace_id"], span.traceId);
        checked++;
      }
    }
    // b: relaying + access line per request (3 + 3); c: working + access per attempt (4 + 4)
    assert.ok(checked >= 14, `only ${checked} request log lines`);
  });

  it("breaker state changes, fail-fast, sheds and handler logs are on the spans; a failure is logged once", async (t) => {
    const nats = await startNats(t);
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const logs = captureLogs("debug");
    const server = await meshFor(t, nats.url, "echo", {
      logger: logs.logger,
      telemetry: { tracerProvider },
      calls: { concurrency: { limit: 1 } },
    });
    let slowStarted = false;
    await server.serve(echoContract, {
      say: async ({ text, delayMs }) => {
        if (text === "fail") throw new MeshError("UNAVAILABLE", "down");
        if (text === "bug") throw new Error("a bug");
        slowStarted ||= text === "slow";
        await delay(delayMs ?? 0); // the handler's work: the slow call holds the only slot meanwhile
        return { text };
      },
      sayAgain: ({ text }) => ({ text }),
    });
    const caller = await meshFor(t, nats.url, "caller", {
      telemetry: { tracerProvider },
      calls: { breaker: { minimumCalls: 3, openMs: 60_000 }, retry: { maxAttempts: 1 } },
    });
    // one slow request holds the only slot: the second is shed
    const slow = caller.call("echo", "say", { text: "slow", delayMs: 200 });
    await waitFor("the slow call to hold the only slot", () => slowStarted);
    const shed = await caller.call("echo", "say", { text: "x" }).catch((e: unknown) => e);
    assert.ok(isMeshError(shed) && shed.code === "OVERLOADED", String(shed));
    await slow;
    // one request of each outcome, for the log lines
    await caller.call("echo", "say", { text: "ok" });
    await caller.call("echo", "say", { text: 1 }).catch(() => undefined);
    await caller.call("echo", "say", { text: "bug" }).catch(() => undefined);
    for (let i = 0; i < 4; i++) await caller.call("echo", "say", { text: "fail" }).catch(() => undefined);

    const spans = serializeSpans(exporter.getFinishedSpans());
    const clientEvents = spans.filter((s) => s.kind === SpanKind.CLIENT).flatMap((s) => s.events);
    const opened = clientEvents.find((e) => e.name === "mesh.breaker.state_change");
    assert.ok(opened, "the call that opened the breaker says so");
    assert.equal(opened.attributes["mesh.breaker.state"], "open");
    assert.equal(opened.attributes["mesh.breaker.previous"], "closed");
    assert.ok(
      clientEvents.some((e) => e.name === "mesh.circuit_open"),
      "the fail-fast call is marked",
    );
    const shedSpan = spans.find(
      (s) => s.kind === SpanKind.SERVER && s.events.some((e) => e.name === "mesh.shed"),
    );
    assert.equal(shedSpan?.attributes["error.type"], "OVERLOADED");

    const byCode = (code: string) => logs.lines.filter((l) => l["endpoint"] === "say" && l["code"] === code);
    const ok = byCode("OK").filter((l) => l["msg"] === "request handled");
    assert.equal(ok.length, 2, "one access line per successful request, at debug");
    assert.ok(ok.every((l) => l["level"] === 20 && typeof l["durationMs"] === "number"));
    assert.deepEqual(
      byCode("INVALID_ARGUMENT").map((l) => l["level"]),
      [40],
      "a caller's mistake: once, at warn",
    );
    assert.deepEqual(
      byCode("INTERNAL").map((l) => l["level"]),
      [50],
      "our failure: once, at error",
    );
    for (const line of logs.lines.filter((l) => l["endpoint"] !== undefined)) {
      assert.match(String(line["trace_id"]), /^[0-9a-f]{32}$/, JSON.stringify(line));
    }
  });
});
