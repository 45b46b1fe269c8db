// Issue 19: a sidecar is its service on a broker that vouches identities — it connects with the
// service's own rendered seed (examples/policy.yaml), the broker enforces its access rules both
// ways, and its callees see the caller the broker vouches for, whatever the app sends.
import assert from "node:assert/strict";
import { it } from "node:test";
import { isMeshError } from "@switchyard/runtime";
import { applyPolicy, meshAs, startRenderedBroker } from "./fixtures/rendered-broker.js";
import { callThrough, pythonBehindSidecar, tsInventory } from "./fixtures/sidecar-app.js";

const POLICY_FILE = new URL("../examples/policy.yaml", import.meta.url).pathname;

it("on rendered credentials: callers the rules allow get through, others are refused by the broker", async (t) => {
  const broker = await startRenderedBroker(t, POLICY_FILE);
  await applyPolicy(t, broker, POLICY_FILE);
  const { callers } = await tsInventory(t, broker.nats.url, {
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
