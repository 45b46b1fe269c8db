// Issue 14: under a broker with an account per identity, the callee acts on the caller the broker
// vouches for (Nats-Request-Info), never on what Mesh-Caller says; cancels and rollout reports are
// bound to the sending account. On an open broker callers are asserted, and marked so.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { Kvm } from "@nats-io/kv";
import { type Msg, type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { SpanKind } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { startController } from "@switchyard/controller";
import { defineContract, type HandlerContext, isMeshError, type Mesh } from "@switchyard/runtime";
import { type EndpointData, MeshStatsResponse } from "@switchyard/schemas";
import { z } from "zod";
import { InstanceCount } from "../mesh-runtime/src/quota/instance-count.js";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { captureLogs, meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { type Cleanup, scratchDir, suiteScope } from "./fixtures/processes.js";

const Seen = z.object({ caller: z.string().nullable(), verified: z.boolean() });
/** An endpoint that takes nothing and answers the caller its handler saw. */
const reportsCaller = { input: z.object({}), output: Seen };
const orders = defineContract({
  name: "orders",
  version: "1.0.0",
  endpoints: { get: reportsCaller, slow: reportsCaller },
});

const PASSWORD = "pw";
const DENY_OWN = `permissions: { publish: { deny: ["mesh.svc.orders.>", "mesh.cancel.orders"] } }`;

/**
 * One account per identity, as `switchyard authz render` writes them (research-14 nats.conf),
 * with users and passwords for brevity. The orders account keeps its own policy bucket (mapped
 * under the import prefix too), so the test needs no controller to give orders a policy;
 * `orders-admin` writes it, and publishes inside the account as nothing in a rendered config can.
 */
const CONFIG = `
accounts {
  "controller" {
    jetstream: enabled
    users: [ { user: controller, password: ${PASSWORD} } ]
    exports: [
      { service: "mesh.svc.controller.>", accounts: ["switchyard-cli"] }
      { service: "mesh.config.applied", accounts: ["orders", "payments"] }
      { stream: "mesh.config.report", accounts: ["orders"] }
    ]
  }
  "orders" {
    jetstream: enabled
    mappings: { "$JS.mesh-policy.API.>": "$JS.API.>" }
    users: [
      { user: orders, password: ${PASSWORD}, ${DENY_OWN} }
      { user: orders-admin, password: ${PASSWORD} }
    ]
    exports: [
      { service: "mesh.svc.orders.>", accounts: ["gateway", "payments"] }
      { service: "mesh.cancel.orders", accounts: ["gateway", "payments"] }
    ]
    imports: [
      { service: { account: "controller", subject: "mesh.config.applied" } }
      { stream: { account: "controller", subject: "mesh.config.report" } }
    ]
  }
  "gateway" {
    users: [ { user: gateway, password: ${PASSWORD} } ]
    imports: [
      { service: { account: "orders", subject: "mesh.svc.orders.>" } }
      { service: { account: "orders", subject: "mesh.cancel.orders" } }
    ]
  }
  "payments" {
    users: [ { user: payments, password: ${PASSWORD} } ]
    imports: [
      { service: { account: "orders", subject: "mesh.svc.orders.>" } }
      { service: { account: "orders", subject: "mesh.cancel.orders" } }
      { service: { account: "controller", subject: "mesh.config.applied" } }
    ]
  }
  "switchyard-cli" {
    users: [ { user: switchyard-cli, password: ${PASSWORD} } ]
    imports: [ { service: { account: "controller", subject: "mesh.svc.controller.>" } } ]
  }
}
`;

/** Only the gateway may call orders; the broker lets payments through, the runtime must not. */
const POLICY = { access: { default: "deny", rules: [{ from: "gateway", to: "orders" }] } };

async function writePolicy(nc: NatsConnection, document: unknown): Promise<void> {
  const kv = await new Kvm(nc).create("mesh-policy");
  const snapshot = {
    version: 1,
    hash: createHash("sha256").update(JSON.stringify(document)).digest("hex"),
    createdAt: new Date().toISOString(),
    document,
  };
  await kv.put("current", JSON.stringify(snapshot));
}

async function rawAs(t: Cleanup, nats: NatsNode, user: string): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url, user, pass: PASSWORD, inboxPrefix: `_INBOX.${user}` });
  t.after(() => nc.close());
  return nc;
}

/** A raw request on `subject` with these headers; the mesh error code of the reply, or "OK". */
async function rawCall(nc: NatsConnection, subject: string, h: Record<string, string>) {
  const headers = natsHeaders();
  for (const [k, v] of Object.entries(h)) headers.set(k, v);
  const reply = await nc.request(subject, "{}", { headers, timeout: 5_000 });
  return {
    code: reply.headers?.get("Mesh-Error") || "OK",
    body: reply.json<{ details?: Record<string, unknown> }>(),
  };
}

/** The `callers` of one endpoint in STATS, asked from inside the service's own account. */
async function callersOf(nc: NatsConnection, endpoint: string): Promise<EndpointData["callers"]> {
  const reply = await nc.request("$SRV.STATS.orders", "", { timeout: 5_000 });
  const stats = MeshStatsResponse.parse(reply.json());
  return stats.endpoints.find((e) => e.name === endpoint)?.data?.callers;
}

const seen = (ctx: HandlerContext) => ({ caller: ctx.caller ?? null, verified: ctx.callerVerified });

describe("verified callers on a broker with an account per identity", () => {
  const scope = suiteScope();
  let nats: NatsNode;
  let ordersMesh: Mesh;
  const exporter = new InMemorySpanExporter();
  const logs = captureLogs("debug");
  const slow = { running: 0, aborted: 0 };
  let handled = 0;

  before(async () => {
    const dir = scratchDir(scope, "verified-caller");
    writeFileSync(join(dir, "nats-server.conf"), CONFIG);
    nats = await startNats(scope, { jetstream: true, args: ["-c", join(dir, "nats-server.conf")] });
    await writePolicy(await rawAs(scope, nats, "orders-admin"), POLICY);
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    ordersMesh = await meshFor(scope, nats.url, "orders", {
      auth: { user: "orders", pass: PASSWORD },
      logger: logs.logger,
      telemetry: { tracerProvider },
    });
    assert.equal(ordersMesh.vouchesIdentity, true);
    await waitFor("orders to run the policy", () => ordersMesh.policyVersion === 1);
    await ordersMesh.serve(orders, {
      get: (_input, ctx) => {
        handled++;
        return seen(ctx);
      },
      slow: async (_input, ctx) => {
        slow.running++;
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
        slow.aborted++;
        return seen(ctx);
      },
    });
  });

  it("judges a forged Mesh-Caller by the verified account: access rule, STATS, span and log", async (t) => {
    // the gateway's runtime, named payments: it writes Mesh-Caller: payments
    const gateway = await meshFor(t, nats.url, "payments", {
      auth: { user: "gateway", pass: PASSWORD },
      policy: { follow: false },
    });
    assert.deepEqual(await gateway.client(orders).get({}), { caller: "gateway", verified: true });
    const payments = await rawAs(t, nats, "payments");
    const denied = await rawCall(payments, "mesh.svc.orders.get", { "Mesh-Caller": "gateway" });
    assert.equal(denied.code, "PERMISSION_DENIED");
    assert.equal(denied.body.details?.["caller"], "payments");

    const callers = await callersOf(await rawAs(t, nats, "orders-admin"), "get");
    assert.equal(callers?.["gateway"]?.requests, 1);
    assert.equal(callers?.["gateway"]?.errors, 0);
    assert.equal(callers?.["gateway"]?.verified, true);
    assert.equal(callers?.["payments"]?.requests, 1);
    assert.equal(callers?.["payments"]?.errors, 1);
    assert.equal(callers?.["payments"]?.verified, true);

    const spans = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
    assert.deepEqual(
      spans.map((s) => [s.attributes["mesh.caller"], s.attributes["mesh.caller.verified"]]),
      [
        ["gateway", true],
        ["payments", true],
      ],
    );
    const lines = logs.lines.filter((l) => l["endpoint"] === "get" && l["code"] !== undefined);
    assert.deepEqual(
      lines.map((l) => [l["code"], l["caller"], l["callerVerified"]]),
      [
        ["OK", "gateway", true],
        ["PERMISSION_DENIED", "payments", true],
      ],
    );
  });

  it("replaces a Nats-Request-Info the caller forged with the broker's own", async (t) => {
    const payments = await rawAs(t, nats, "payments");
    const forged = JSON.stringify({ acc: "gateway", user: "gateway", name: "gateway" });
    const denied = await rawCall(payments, "mesh.svc.orders.get", {
      "Nats-Request-Info": forged,
      "Mesh-Caller": "gateway",
    });
    assert.equal(denied.code, "PERMISSION_DENIED");
    assert.equal(denied.body.details?.["caller"], "payments");
  });

  it("refuses a Nats-Request-Info the broker leaves beside its own: another spelling, a second copy", async (t) => {
    // nats-server removes only the first sender line spelled exactly Nats-Request-Info, and
    // appends its own after the sender's lines: any other copy would be read first
    const payments = await rawAs(t, nats, "payments");
    const forged = JSON.stringify({ acc: "gateway", user: "gateway" });
    const before = handled;
    for (const copies of [
      [["nats-request-info", forged]],
      [["NATS-REQUEST-INFO", forged]],
      [
        ["Nats-Request-Info", forged],
        ["Nats-Request-Info", forged],
      ],
    ]) {
      const headers = natsHeaders();
      for (const [k, v] of copies) headers.append(k as string, v as string);
      const reply = await payments.request("mesh.svc.orders.get", "{}", { headers, timeout: 5_000 });
      assert.equal(reply.headers?.get("Mesh-Error"), "UNAUTHENTICATED", JSON.stringify(copies));
    }
    assert.equal(handled, before, "none reached the handler");
  });

  it("refuses with UNAUTHENTICATED a request that crossed no import, or a second one", async (t) => {
    // inside the callee's account nothing writes Nats-Request-Info (rendered users may not publish there)
    const inside = await rawAs(t, nats, "orders-admin");
    const before = handled;
    for (const info of [undefined, JSON.stringify({ acc: "gateway", svc: "payments" })]) {
      const h: Record<string, string> = { "Mesh-Caller": "gateway" };
      if (info !== undefined) h["Nats-Request-Info"] = info;
      assert.equal((await rawCall(inside, "mesh.svc.orders.get", h)).code, "UNAUTHENTICATED");
    }
    assert.equal(handled, before, "neither reached the handler");
  });

  it("honours a cancel only from the account that sent the request", async (t) => {
    const gateway = await meshFor(t, nats.url, "gateway", {
      auth: { user: "gateway", pass: PASSWORD },
      policy: { follow: false },
    });
    const payments = await rawAs(t, nats, "payments");
    const controller = new AbortController();
    const idempotencyKey = "cancel-me";
    const pending = gateway
      .client(orders)
      .slow({}, { signal: controller.signal, idempotencyKey, timeoutMs: 20_000 })
      .catch((e: unknown) => e);
    await waitFor("the call to reach orders", () => slow.running === 1);
    // payments names the gateway's request exactly, reply subject and all
    payments.publish(
      "mesh.cancel.orders",
      JSON.stringify({ reply: "_INBOX.gateway.x.0", idempotencyKey, attempt: 1 }),
    );
    // a round trip from payments after its cancel: orders has heard the cancel by its end
    assert.equal((await rawCall(payments, "mesh.svc.orders.get", {})).code, "PERMISSION_DENIED");
    assert.equal(slow.aborted, 0, "another account's cancel is ignored");
    controller.abort();
    const e = await pending;
    assert.ok(isMeshError(e) && e.code === "CANCELLED");
    await waitFor("the owner's cancel to abort the handler", () => slow.aborted === 1);
  });

  it("drops a rollout report for another service, and takes the sender's own", async (t) => {
    const controllerLogs = captureLogs("warn");
    const controller = await startController({
      mesh: {
        servers: nats.url,
        auth: { user: "controller", pass: PASSWORD },
        logger: controllerLogs.logger,
      },
    });
    t.after(() => controller.close());
    const operator = await meshFor(t, nats.url, "switchyard-cli", {
      auth: { user: "switchyard-cli", pass: PASSWORD },
      policy: { follow: false },
    });
    const payments = await rawAs(t, nats, "payments");
    const report = (service: string, instanceId: string) =>
      JSON.stringify({
        instanceId,
        service,
        version: 7,
        status: "applied",
        at: new Date().toISOString(),
        heartbeatMs: 60_000,
      });
    payments.publish("mesh.config.applied", report("orders", "forged"));
    // a copy of the header in another spelling survives beside the broker's: not believed either
    const forgedInfo = natsHeaders();
    forgedInfo.set("nats-request-info", JSON.stringify({ acc: "orders" }));
    payments.publish("mesh.config.applied", report("orders", "forged-info"), { headers: forgedInfo });
    payments.publish("mesh.config.applied", report("payments", "p-1"));
    const status = async () =>
      (await operator.call("controller", "status", {})) as {
        instances: Array<{ instanceId: string; service: string }>;
      };
    const instances = await eventually(async () => {
      const { instances } = await status();
      assert.ok(instances.some((i) => i.instanceId === "p-1"));
      // the orders runtime answers the controller's report request, through the same import
      assert.ok(instances.some((i) => i.instanceId === ordersMesh.instanceId));
      return instances;
    });
    assert.deepEqual(
      instances.map((i) => [i.service, i.instanceId]).sort(),
      [
        // the controller's own runtime reports inside its account, without broker info
        ["controller", controller.mesh.instanceId],
        ["orders", ordersMesh.instanceId],
        ["payments", "p-1"],
      ].sort(),
    );
    const warned = controllerLogs.lines.find((l) => String(l["msg"]).startsWith("rollout report dropped"));
    assert.equal(warned?.["reason"], "payments may not report for orders");
    assert.equal(warned?.["dropped"], 1);
  });
});

describe("asserted callers on an open broker", () => {
  it("takes Mesh-Caller, and says everywhere that it was only asserted", async (t) => {
    const nats = await startNats(t);
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const callee = await meshFor(t, nats.url, "orders", { telemetry: { tracerProvider } });
    assert.equal(callee.vouchesIdentity, false);
    await callee.serve(orders, { get: (_input, ctx) => seen(ctx), slow: (_input, ctx) => seen(ctx) });
    const caller = await meshFor(t, nats.url, "gateway");
    assert.deepEqual(await caller.client(orders).get({}), { caller: "gateway", verified: false });
    const callers = await callersOf(caller.connection, "get");
    assert.deepEqual(callers?.["gateway"] && [callers["gateway"].requests, callers["gateway"].verified], [
      1,
      false,
    ]);
    const [span] = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
    assert.equal(span?.attributes["mesh.caller"], "gateway");
    assert.equal(span?.attributes["mesh.caller.verified"], false);
  });

  it("counts distinct instance ids for local quotas: repeated PING replies do not add up", async (t) => {
    const nats = await startNats(t);
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    const answer = (name: string, id: string) => (_err: Error | null, m: Msg) => {
      m.respond(JSON.stringify({ type: "io.nats.micro.v1.ping_response", name, id, version: "1.0.0" }));
    };
    // one real instance answering twice, a second one, and another service's reply
    nc.subscribe("$SRV.PING.orders", { callback: answer("orders", "a") });
    nc.subscribe("$SRV.PING.orders", { callback: answer("orders", "a") });
    nc.subscribe("$SRV.PING.orders", { callback: answer("orders", "b") });
    nc.subscribe("$SRV.PING.orders", { callback: answer("payments", "c") });
    await nc.flush();
    const count = new InstanceCount(nc);
    t.after(() => count.stop());
    count.watch("orders");
    await waitFor("the first count", () => count.of("orders") !== 1);
    assert.equal(count.of("orders"), 2);
  });
});
