// Issue 7: a nats-server started with the configuration `switchyard authz render` writes enforces
// the policy's access rules; the runtime turns refusals into PERMISSION_DENIED and checks too.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { errors, nkeyAuthenticator } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import { connect } from "@nats-io/transport-node";
import { startController } from "@switchyard/controller";
import { connectMesh, defineContract, isMeshError, type Mesh } from "@switchyard/runtime";
import { z } from "zod";
import { controllerFor } from "./fixtures/controller.js";
import { waitFor } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { scratchDir, suiteScope } from "./fixtures/processes.js";
import { runCli, startRenderedBroker } from "./fixtures/rendered-broker.js";

const Any = z.object({ sku: z.string() });
const inventory = defineContract({
  name: "inventory",
  version: "1.0.0",
  endpoints: { reserve: { input: Any, output: Any }, release: { input: Any, output: Any } },
});
const orders = defineContract({
  name: "orders",
  version: "1.0.0",
  endpoints: { create: { input: Any, output: Any } },
});

const POLICY = `
services:
  orders: {}
  inventory: {}
access:
  default: deny
  rules:
    - { from: orders, to: inventory, endpoints: [reserve] }
`;

describe("identity and access, enforced by a nats-server running the rendered config", () => {
  const scope = suiteScope();
  let dir: string;
  let nats: NatsNode;
  const seed = (name: string) => join(dir, `${name}.nk`);
  const served = { create: 0, reserve: 0, release: 0 };
  let ordersMesh: Mesh;
  let inventoryMesh: Mesh;

  before(async () => {
    const policyFile = join(scratchDir(scope, "policy"), "policy.yaml");
    writeFileSync(policyFile, POLICY);
    const broker = await startRenderedBroker(scope, policyFile);
    ({ dir, nats } = broker);
    const controller = await startController({
      mesh: { servers: nats.url, logLevel: "silent", auth: { nkeyFile: seed("controller") } },
    });
    scope.after(() => controller.close());
    const operatorEnv = { NATS_URL: nats.url, NATS_NKEY: seed("switchyard-cli") };
    const applied = await runCli(operatorEnv, "policy", "apply", "-f", policyFile);
    assert.equal(applied.code, 0, `the operator applies the policy: ${applied.stderr}`);
    ordersMesh = await meshFor(scope, nats.url, "orders", { auth: { nkeyFile: seed("orders") } });
    inventoryMesh = await meshFor(scope, nats.url, "inventory", { auth: { nkeyFile: seed("inventory") } });
    await ordersMesh.serve(orders, {
      create: (input) => {
        served.create++;
        return input;
      },
    });
    await inventoryMesh.serve(inventory, {
      reserve: (input) => {
        served.reserve++;
        return input;
      },
      release: (input) => {
        served.release++;
        return input;
      },
    });
  });

  // how soon the broker refuses is a speed: the bench's fail-fast suite measures it
  it("an allowed call succeeds; a disallowed one is refused by the broker and never reaches the callee", async () => {
    assert.deepEqual(await ordersMesh.client(inventory).reserve({ sku: "a" }), { sku: "a" });
    for (const [mesh, call] of [
      [ordersMesh, () => ordersMesh.client(inventory).release({ sku: "b" })],
      [inventoryMesh, () => inventoryMesh.client(orders).create({ sku: "c" })],
    ] as const) {
      const e = await call().catch((x: unknown) => x);
      assert.ok(isMeshError(e) && e.code === "PERMISSION_DENIED", `${mesh.name}: ${String(e)}`);
    }
    assert.deepEqual(served, { create: 0, reserve: 1, release: 0 });
  });

  it("a service cannot subscribe to another's endpoints or inbox, publish policy, or apply one", async (t) => {
    const nc = await connect({
      servers: nats.url,
      authenticator: nkeyFrom(seed("inventory")),
      inboxPrefix: "_INBOX.inventory",
    });
    t.after(() => nc.close());
    const refusals: string[] = [];
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "error" && s.error instanceof errors.PermissionViolationError) {
          refusals.push(`${s.error.operation} ${s.error.subject}`);
        }
      }
    })();
    const stolen: string[] = [];
    for (const subject of ["mesh.svc.orders.>", "_INBOX.orders.>"]) {
      nc.subscribe(subject, {
        callback: (err, m) => {
          if (!err) stolen.push(m.subject);
        },
      });
    }
    nc.publish("mesh.config.policy", JSON.stringify({ version: 999 }));
    await nc.flush();
    await ordersMesh.client(inventory).reserve({ sku: "watched" });
    assert.deepEqual(stolen, [], "nothing of orders' reached inventory");
    assert.ok(refusals.includes("subscription mesh.svc.orders.>"), refusals.join("; "));
    assert.ok(refusals.includes("subscription _INBOX.orders.>"), refusals.join("; "));
    assert.ok(refusals.includes("publish mesh.config.policy"), refusals.join("; "));

    const apply = await inventoryMesh.call("controller", "apply", { document: {} }).catch((x: unknown) => x);
    assert.ok(isMeshError(apply) && apply.code === "PERMISSION_DENIED", String(apply));
    assert.equal(ordersMesh.policyVersion, 1, "the policy did not change");
  });

  it("one service's credentials cannot serve as another; wrong credentials fail fast at startup", async () => {
    // its inbox and its endpoints are another identity's: refused at connect, and at serve
    const impostor = await connectMesh({
      name: "orders",
      servers: nats.url,
      logLevel: "silent",
      auth: { nkeyFile: seed("inventory") },
    }).catch((x: unknown) => x);
    assert.ok(isMeshError(impostor) && impostor.code === "PERMISSION_DENIED", String(impostor));
    const squatter = await connectMesh({
      name: "inventory",
      servers: nats.url,
      logLevel: "silent",
      auth: { nkeyFile: seed("inventory") },
    });
    try {
      const e = await squatter.serve(orders, { create: (x) => x }).catch((x: unknown) => x);
      assert.ok(isMeshError(e) && e.code === "PERMISSION_DENIED", String(e));
    } finally {
      await squatter.close();
    }
    const stranger = join(dir, "stranger.nk");
    // a well-formed key the server does not know
    writeFileSync(stranger, new TextDecoder().decode(createUser().getSeed()));
    for (const auth of [{ nkeyFile: stranger }, { user: "orders", pass: "wrong" }]) {
      const startedAt = performance.now();
      const e = await connectMesh({ name: "orders", servers: nats.url, logLevel: "silent", auth }).catch(
        (x: unknown) => x,
      );
      assert.ok(isMeshError(e) && e.code === "UNAUTHENTICATED", String(e));
      assert.ok(performance.now() - startedAt < 3_000, "refused, not hung");
    }
  });
});

describe("the callee checks the access rules too", () => {
  it("a caller no rule allows gets PERMISSION_DENIED from the callee (no broker permissions)", async (t) => {
    const nats = await startNats(t, { jetstream: true });
    const controller = await controllerFor(t, nats.url);
    const callee = await meshFor(t, nats.url, "inventory");
    let ran = 0;
    await callee.serve(inventory, {
      reserve: (x) => {
        ran++;
        return x;
      },
      release: (x) => x,
    });
    const admin = await meshFor(t, nats.url, "admin", { policy: { follow: false } });
    await admin.call("controller", "apply", {
      document: { access: { default: "deny", rules: [{ from: "orders", to: "inventory" }] } },
    });
    await waitFor("the callee to run the policy", () => callee.policyVersion >= 1);
    const allowed = await meshFor(t, nats.url, "orders");
    const intruder = await meshFor(t, nats.url, "intruder");
    assert.deepEqual(await allowed.client(inventory).reserve({ sku: "x" }), { sku: "x" });
    const e = await intruder
      .client(inventory)
      .reserve({ sku: "y" })
      .catch((x: unknown) => x);
    assert.ok(isMeshError(e) && e.code === "PERMISSION_DENIED", String(e));
    assert.deepEqual(e.details, { caller: "intruder", service: "inventory", endpoint: "reserve" });
    assert.equal(ran, 1);
    void controller;
  });
});

function nkeyFrom(path: string) {
  return nkeyAuthenticator(new TextEncoder().encode(readFileSync(path, "utf8").trim()));
}
