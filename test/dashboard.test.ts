// Issue 9 (the server side): the controller's dashboard API over a running mesh — overview with
// observed edges, service pages, the live stream, policy and rollout, operator-only writes — and
// its cost with 50 services and 200 instances publishing statistics.
import assert from "node:assert/strict";
import { type IncomingMessage, request } from "node:http";
import { describe, it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { type ControllerOptions, startController } from "@switchyard/controller";
import { defineContract } from "@switchyard/runtime";
import { z } from "zod";
import { echoContract } from "./fixtures/contracts.js";
import { eventually } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import type { Cleanup } from "./fixtures/processes.js";
import { publishStats } from "./fixtures/stats-publishers.js";

const TOKEN = "operator-token-for-tests";

const meteredContract = defineContract({
  name: "metered",
  version: "1.0.0",
  endpoints: { ping: { input: z.object({ n: z.number() }), output: z.object({ n: z.number() }) } },
});

async function get<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return (await res.json()) as T;
}

interface Overview {
  collectMs: number;
  instances: Array<{ service: string; id: string }>;
  endpoints: Array<{ service: string; endpoint: string; instances: number; callsPerSec: number }>;
  edges: Array<{ caller: string; service: string; callsPerSec: number; successRate: number | null }>;
}

/** A GET with the `Host` header given (fetch does not let a caller set it); resolves at the headers. */
function getWithHost(url: string, host: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host }, agent: false }, resolve);
    req.once("error", reject);
    req.end();
  });
}

/** A nats-server and a controller serving its dashboard with `dashboard`, both stopped after the test. */
async function dashboardFor(t: Cleanup, dashboard: NonNullable<ControllerOptions["dashboard"]>) {
  const nats = await startNats(t, { jetstream: true });
  const controller = await startController({ mesh: { servers: nats.url, logLevel: "silent" }, dashboard });
  t.after(() => controller.close());
  return { nats, base: controller.dashboardUrl as string };
}

describe("dashboard API", () => {
  it("overview, edges, service page, stream, policy and rollout; writes only with the operator token", async (t) => {
    const { nats, base } = await dashboardFor(t, { port: 0, token: TOKEN });
    for (let i = 0; i < 2; i++) {
      const mesh = await meshFor(t, nats.url, "echo");
      await mesh.serve(echoContract, { say: ({ text }) => ({ text }), sayAgain: ({ text }) => ({ text }) });
    }
    const frontend = await meshFor(t, nats.url, "frontend");
    let calling = true;
    const traffic = (async () => {
      while (calling) {
        await frontend.call("echo", "say", { text: "hi" }).catch(() => undefined);
        await delay(5); // the pace of the traffic
      }
    })();
    t.after(async () => {
      calling = false;
      await traffic;
    });

    await eventually(
      async () => {
        const o = await get<Overview>(`${base}/api/overview`);
        const say = o.endpoints.find((e) => e.service === "echo" && e.endpoint === "say");
        assert.equal(say?.instances, 2);
        assert.ok((say?.callsPerSec ?? 0) > 0, "a rate once two collections are in");
        const edge = o.edges.find((e) => e.caller === "frontend" && e.service === "echo");
        assert.ok(edge && edge.callsPerSec > 0 && edge.successRate === 1, JSON.stringify(o.edges));
      },
      10_000,
      200,
    );
    const page = await get<{ instances: unknown[]; endpoints: Array<{ history: unknown[] }> }>(
      `${base}/api/services/echo`,
    );
    assert.equal(page.instances.length, 2);
    assert.ok(page.endpoints.every((e) => e.history.length > 0));
    assert.equal((await fetch(`${base}/api/services/nobody`)).status, 404);

    // the live stream: an overview event about once a second
    const stream = await fetch(`${base}/api/stream`);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("event: overview")) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();

    // policy: read-only without the token, applied with it, then every instance acknowledges
    const before = await get<{ rollout: { version: number } }>(`${base}/api/policy`);
    assert.equal(before.rollout.version, 0);
    const apply = (token?: string) =>
      fetch(`${base}/api/policy`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({
          document: { services: { echo: { timeoutMs: 1_500 } } },
          note: "from the test",
        }),
      });
    assert.equal((await apply()).status, 401);
    assert.equal((await apply("wrong")).status, 401);
    const invalid = await fetch(`${base}/api/policy`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ document: { services: { echo: { timeoutMs: -1 } } } }),
    });
    assert.equal(invalid.status, 400, "validated as the CLI's apply is");
    assert.equal((await apply(TOKEN)).status, 200);
    await eventually(
      async () => {
        const p = await get<{
          current: { version: number };
          history: unknown[];
          rollout: { version: number; instances: Array<{ service: string; state: string }> };
        }>(`${base}/api/policy`);
        assert.equal(p.current.version, 1);
        assert.equal(p.history.length, 1);
        const echoes = p.rollout.instances.filter((i) => i.service === "echo");
        assert.equal(echoes.length, 2);
        assert.ok(
          echoes.every((i) => i.state === "current"),
          JSON.stringify(p.rollout),
        );
      },
      15_000,
      100,
    );
    assert.ok(Array.isArray(await get<unknown[]>(`${base}/api/quotas`)));
    assert.equal((await fetch(`${base}/`)).status, 200);
  });

  it("stays responsive with 50 services and 200 instances publishing statistics", async (t) => {
    const { nats, base } = await dashboardFor(t, { port: 0 });
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    publishStats(nc, 50, 4);
    await nc.flush();
    // the overview shows the last collection (once a second, from the first use): wait for each next one
    let lastAt = (await get<Overview & { at?: string }>(`${base}/api/overview`)).at;
    const collect: number[] = [];
    for (let i = 0; i < 5; i++) {
      const o = await eventually(async () => {
        const next = await get<Overview & { at?: string }>(`${base}/api/overview`);
        assert.notEqual(next.at, lastAt, "the next collection");
        return next;
      }, 5_000);
      lastAt = o.at;
      collect.push(o.collectMs);
      // the controller answers discovery too
      assert.equal(o.instances.filter((x) => x.service.startsWith("svc-")).length, 200);
      assert.equal(o.endpoints.filter((x) => x.service.startsWith("svc-")).length, 150);
      assert.equal(o.edges.length, 50);
    }
    // how fast it answers and what a collection costs are speeds: the bench's dashboard suite
    t.diagnostic(
      `each collection of 200 replies cost ${collect.map((c) => c.toFixed(1)).join(", ")} ms of CPU`,
    );
  });

  // issue 15: an edge whose caller fails fast (breaker open) is not shown at 100% success
  it("edges carry what the caller saw: an open breaker and CIRCUIT_OPEN, not 100% success", async (t) => {
    const { nats, base } = await dashboardFor(t, { port: 0 });
    const callee = await meshFor(t, nats.url, "echo");
    await callee.serve(echoContract, {
      say: () => {
        throw new Error("always");
      },
      sayAgain: ({ text }) => ({ text }),
    });
    // the caller serves a service, so it answers STATS; its breaker stays open for the whole test
    const frontend = await meshFor(t, nats.url, "frontend", { calls: { breaker: { openMs: 600_000 } } });
    await frontend.serve(meteredContract, { ping: ({ n }) => ({ n }) });
    for (let n = 0; n < 30; n++) await frontend.call("echo", "say", { text: "hi" }).catch(() => undefined);
    interface CallerSide {
      successRate: number | null;
      failures: Record<string, number>;
      breakers: { open: number };
    }
    await eventually(
      async () => {
        const o = await get<{ edges: Array<Overview["edges"][number] & { callerSide: CallerSide | null }> }>(
          `${base}/api/overview`,
        );
        const edge = o.edges.find((e) => e.caller === "frontend" && e.service === "echo");
        assert.ok(edge?.callerSide, JSON.stringify(o.edges));
        assert.equal(edge.callerSide.successRate, 0);
        assert.ok((edge.callerSide.failures["CIRCUIT_OPEN"] ?? 0) > 0, JSON.stringify(edge.callerSide));
        assert.equal(edge.callerSide.breakers.open, 1);
      },
      10_000,
      200,
    );
    const page = await get<{ callers: Array<{ caller: string; callerSide: CallerSide | null }> }>(
      `${base}/api/services/echo`,
    );
    assert.equal(page.callers.find((e) => e.caller === "frontend")?.callerSide?.breakers.open, 1);
  });

  it("answers only to loopback names and its own host, and caps the streams one client holds", async (t) => {
    const { base } = await dashboardFor(t, { port: 0, allowedHosts: ["dashboard.internal"] });
    const port = new URL(base).port;

    // DNS rebinding: a page from another site resolved to 127.0.0.1 still names its own site
    for (const host of ["evil.example", `evil.example:${port}`, "127.0.0.1.evil.example"]) {
      const res = await getWithHost(`${base}/api/overview`, host);
      res.resume();
      assert.equal(res.statusCode, 403, `Host: ${host}`);
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "dashboard.internal"]) {
      const res = await getWithHost(`${base}/api/overview`, host);
      res.resume();
      assert.equal(res.statusCode, 200, `Host: ${host}`);
    }

    // streams per client: a few tabs, not every stream the controller has
    const streams: IncomingMessage[] = [];
    t.after(() => {
      for (const s of streams) s.destroy();
    });
    for (let i = 0; i < 4; i++) {
      const res = await getWithHost(`${base}/api/stream`, `127.0.0.1:${port}`);
      assert.equal(res.statusCode, 200, `stream ${i + 1}`);
      streams.push(res);
    }
    const refused = await getWithHost(`${base}/api/stream`, `127.0.0.1:${port}`);
    refused.resume();
    assert.equal(refused.statusCode, 503, "a fifth stream from the same client");
    // one closed makes room again
    const closed = streams.pop() as IncomingMessage;
    closed.destroy();
    await eventually(async () => {
      const res = await getWithHost(`${base}/api/stream`, `127.0.0.1:${port}`);
      streams.push(res);
      assert.equal(res.statusCode, 200);
    }, 5_000);
  });
});
