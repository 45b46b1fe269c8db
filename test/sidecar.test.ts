// Issue 19: a service in another language on the mesh through `switchyard sidecar` — the Python
// example (examples/recommendations) behind a sidecar, against a real nats-server and redis-server.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { before, describe, it } from "node:test";
import { controllerContract } from "@switchyard/controller";
import { isMeshError, type Mesh } from "@switchyard/runtime";
import type { PolicyInput } from "@switchyard/schemas";
import { controllerFor } from "./fixtures/controller.js";
import { eventually } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { suiteScope } from "./fixtures/processes.js";
import { type RedisNode, startRedis } from "./fixtures/redis-server.js";
import { callThrough, pythonBehindSidecar, type SidecarSetup, tsInventory } from "./fixtures/sidecar-app.js";

const CLI = new URL("../cli/bin/switchyard.mjs", import.meta.url).pathname;

describe("a Python service behind a sidecar", () => {
  const scope = suiteScope();
  let nats: NatsNode;
  let redis: RedisNode;
  let setup: SidecarSetup;
  let orders: Mesh;
  let inventoryCallers: Array<string | undefined>;

  before(async () => {
    nats = await startNats(scope, { jetstream: true });
    redis = await startRedis(scope);
    await controllerFor(scope, nats.url);
    inventoryCallers = (await tsInventory(scope, nats.url)).callers;
    setup = await pythonBehindSidecar(scope, nats.url, { mesh: { redis: { url: redis.url } } });
    orders = await meshFor(scope, nats.url, "orders");
  });

  /** Applies `document` and waits until the sidecar runs it. */
  async function apply(document: PolicyInput): Promise<number> {
    const { version } = await orders.client(controllerContract).apply({ document });
    await eventually(() => assert.equal(setup.sidecar.mesh.policyVersion, version));
    return version;
  }

  it("is called by a TypeScript service and calls a TypeScript service in turn", async () => {
    const reply = await orders.call("recommendations", "suggest", { customerId: "c-1", limit: 3 });
    // inventory has none of GIZMO-3: the Python app asked it about every SKU and left that one out
    assert.deepEqual(
      new Set((reply as { items: Array<{ sku: string }> }).items.map((i) => i.sku)),
      new Set(["WIDGET-1", "GADGET-2"]),
    );
    assert.equal((reply as { customerId: string }).customerId, "c-1");
  });

  it("is visible in switchyard top like any other service: its endpoint, and its calls as an edge", async () => {
    const top = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [CLI, "top", "--json", "--interval", "100"],
        { env: { ...process.env, NATS_URL: nats.url }, timeout: 60_000 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const snapshot = JSON.parse(top) as {
      endpoints: Array<{ service: string; endpoint: string; instances: number; calls: number }>;
      edges: Array<{ caller: string; service: string; calls: number }>;
    };
    const suggest = snapshot.endpoints.find(
      (e) => e.service === "recommendations" && e.endpoint === "suggest",
    );
    assert.ok(suggest && suggest.instances === 1 && suggest.calls > 0, top);
    const edge = snapshot.edges.find((e) => e.caller === "recommendations" && e.service === "inventory");
    assert.ok(edge && edge.calls > 0, top);
  });

  it("gives the app the mesh through its HTTP API, errors as the gateway's statuses and bodies", async () => {
    const { sidecar } = setup;
    const ok = await callThrough(sidecar, "inventory", "stock", { sku: "WIDGET-1" });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { sku: "WIDGET-1", available: 7 });
    assert.ok(sidecar.url.startsWith("http://127.0.0.1:"), "the API is on loopback only");
    // the app cannot pass for another service: the callee sees the sidecar's identity
    const before = inventoryCallers.length;
    await callThrough(sidecar, "inventory", "stock", { sku: "WIDGET-1" }, { "Mesh-Caller": "orders" });
    assert.deepEqual(inventoryCallers.slice(before), ["recommendations"]);
    const bad = await callThrough(sidecar, "inventory", "stock", { sku: "not a sku" });
    assert.equal(bad.status, 400);
    assert.equal((bad.body["error"] as { code: string }).code, "INVALID_ARGUMENT");
    const nobody = await callThrough(sidecar, "nobody-here", "x", {}, { "Mesh-Timeout": "2000" });
    assert.equal(nobody.status, 503);
    assert.equal((nobody.body["error"] as { code: string }).code, "NO_RESPONDERS");
    const badHeader = await callThrough(
      sidecar,
      "inventory",
      "stock",
      { sku: "X" },
      { "Mesh-Timeout": "soon" },
    );
    assert.equal(badHeader.status, 400);
    assert.match((badHeader.body["error"] as { message: string }).message, /Mesh-Timeout/);
    // a tenant token is passed on only inside the request that brought it: not forged from outside
    const forged = await callThrough(
      sidecar,
      "inventory",
      "stock",
      { sku: "X" },
      { "Mesh-Tenant-Token": "v1.a.b" },
    );
    assert.equal(forged.status, 400);
    assert.match((forged.body["error"] as { message: string }).message, /Mesh-Tenant-Token/);
  });

  it("refuses input its contract's JSON Schema rejects before the app sees it", async () => {
    const seenBefore = await setup.app.seen();
    for (const input of [
      { customerId: "" },
      { customerId: "c-1", extra: true },
      { customerId: "c-1", limit: 9 },
      "text",
    ]) {
      const error = await orders.call("recommendations", "suggest", input).catch((e: unknown) => e);
      assert.ok(isMeshError(error), `not refused: ${JSON.stringify(input)}`);
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.ok(
        Array.isArray((error.details as { issues?: unknown })?.issues),
        "the schema's issues are named",
      );
    }
    assert.equal(await setup.app.seen(), seenBefore, "the app saw input its schema refuses");
  });

  it("enforces its quota per tenant", async () => {
    await apply({
      quotas: [
        {
          name: "suggestions",
          match: { tenant: "*", service: "recommendations", endpoint: "suggest" },
          rate: 2,
          periodMs: 60_000,
          burst: 1,
          onStoreFailure: "closed",
        },
      ],
    });
    const suggest = (tenant: string) =>
      orders.call("recommendations", "suggest", { customerId: "c-2" }, { tenant, maxAttempts: 1 }).then(
        () => "OK",
        (e: unknown) => (isMeshError(e) ? e.code : String(e)),
      );
    const first: string[] = [];
    for (let i = 0; i < 5; i++) first.push(await suggest("acme-sidecar"));
    assert.equal(first[0], "OK");
    assert.ok(first.includes("QUOTA_EXCEEDED"), `acme-sidecar was never refused: ${first.join(", ")}`);
    // another tenant has its own allowance
    assert.equal(await suggest("globex-sidecar"), "OK");
  });

  it("follows a policy change live: access rules the sidecar enforces", async () => {
    const stranger = await meshFor(scope, nats.url, "stranger");
    assert.ok(await stranger.call("recommendations", "suggest", { customerId: "c-3" }));
    const version = await apply({
      access: {
        default: "deny",
        rules: [
          { from: "orders", to: "recommendations" },
          { from: "recommendations", to: "inventory", endpoints: ["stock"] },
          { from: "orders", to: "controller" },
        ],
      },
    });
    const refused = await stranger
      .call("recommendations", "suggest", { customerId: "c-3" })
      .catch((e: unknown) => e);
    assert.ok(
      isMeshError(refused) && refused.code === "PERMISSION_DENIED",
      `not refused: ${String(refused)}`,
    );
    assert.ok(await orders.call("recommendations", "suggest", { customerId: "c-3" }));
    const health = await (await fetch(`${setup.sidecar.url}/v1/health`)).json();
    assert.equal((health as { policyVersion: number }).policyVersion, version);
  });
});
