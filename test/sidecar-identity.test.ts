// Issue 19: a sidecar is its service on a broker that vouches identities — it connects with the
// service's own rendered seed (examples/policy.yaml), the broker enforces its access rules both
// ways, and its callees see the caller the broker vouches for, whatever the app sends.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { isMeshError } from "@switchyard/runtime";
import { parse, stringify } from "yaml";
import { eventually } from "./fixtures/eventually.js";
import { scratchDir } from "./fixtures/processes.js";
import { applyPolicy, meshAs, startRenderedBroker } from "./fixtures/rendered-broker.js";
import { callThrough, pythonBehindSidecar, tsInventory } from "./fixtures/sidecar-app.js";

const POLICY_FILE = new URL("../examples/policy.yaml", import.meta.url).pathname;

it("on rendered credentials: callers the rules allow get through, others are refused by the broker; tenant tokens pass through the app", async (t) => {
  const broker = await startRenderedBroker(t, POLICY_FILE);
  // orders originates tenants here (as the gateway does in `npm start -- --secure`), and every
  // callee requires a valid token for a tenant
  const example = parse(readFileSync(POLICY_FILE, "utf8")) as { tenants: Record<string, unknown> };
  const policyFile = join(scratchDir(t, "sidecar-policy"), "policy.yaml");
  const tenants = {
    ...example.tenants,
    issuers: { orders: { publicKey: broker.publicKey("orders") } },
    require: "verified",
  };
  writeFileSync(policyFile, stringify({ ...example, tenants }));
  await applyPolicy(t, broker, policyFile);
  const { callers, tenants: seenTenants } = await tsInventory(t, broker.nats.url, {
    auth: { nkeyFile: broker.seedFile("inventory") },
  });
  const { sidecar } = await pythonBehindSidecar(t, broker.nats.url, {
    mesh: { auth: { nkeyFile: broker.seedFile("recommendations") } },
  });
  assert.ok(sidecar.mesh.vouchesIdentity, "the broker vouches who sent each request");

  const orders = await meshAs(t, broker, "orders");
  const reply = (await orders.call("recommendations", "suggest", { customerId: "c-1" })) as {
    items: unknown[];
  };
  assert.ok(reply.items.length > 0);
  assert.ok(callers.length > 0 && callers.every((c) => c === "recommendations"), callers.join());

  // the sidecar gives the app the request's token; the app's calls out carry it on, verified downstream
  const before = seenTenants.length;
  await eventually(() => assert.equal(sidecar.mesh.policyVersion, orders.policyVersion));
  await orders.call("recommendations", "suggest", { customerId: "c-1" }, { tenant: "acme" });
  const during = seenTenants.slice(before);
  assert.ok(during.length > 0 && during.every((s) => s === "acme (verified)"), during.join());
  // a tenant the app names without a token is refused where tokens are required
  const asserted = await callThrough(
    sidecar,
    "inventory",
    "stock",
    { sku: "WIDGET-1" },
    { "Mesh-Tenant": "acme" },
  );
  assert.equal(asserted.status, 401, JSON.stringify(asserted.body));

  // no rule lets the gateway call recommendations
  const gateway = await meshAs(t, broker, "gateway");
  const refused = await gateway
    .call("recommendations", "suggest", { customerId: "c-1" })
    .catch((e: unknown) => e);
  assert.ok(isMeshError(refused) && refused.code === "PERMISSION_DENIED", String(refused));

  // nor recommendations payments: the app asks its sidecar, the broker says no
  const charge = await callThrough(sidecar, "payments", "charge", { orderId: "o-1", amountCents: 1 });
  assert.equal(charge.status, 403, JSON.stringify(charge.body));
  assert.equal((charge.body["error"] as { code: string }).code, "PERMISSION_DENIED");
});
