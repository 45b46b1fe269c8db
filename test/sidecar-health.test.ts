// Issue 19: the app behind a sidecar dies → its callers get a fast 503 (never a wait for their
// deadline) and the instance leaves discovery; the app back → a new instance serves again.
import assert from "node:assert/strict";
import { it } from "node:test";
import { isMeshError, type Mesh } from "@switchyard/runtime";
import { waitFor } from "./fixtures/eventually.js";
import { discoveredIds, meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import { pythonBehindSidecar, tsInventory } from "./fixtures/sidecar-app.js";

/** The instance ids that answer `$SRV.PING.<service>` within 200 ms. */
const instances = (mesh: Mesh, service: string) => discoveredIds(mesh, service, 200);

it("the app killed: callers get UNAVAILABLE at once, the instance leaves discovery, and comes back with the app", async (t) => {
  const nats = await startNats(t, { jetstream: true });
  await tsInventory(t, nats.url);
  const { sidecar, app } = await pythonBehindSidecar(t, nats.url, { healthIntervalMs: 100 });
  const orders = await meshFor(t, nats.url, "orders");
  const suggest = () =>
    orders
      .call("recommendations", "suggest", { customerId: "c-1" }, { timeoutMs: 30_000 })
      .catch((e: unknown) => e);
  assert.ok(!isMeshError(await suggest()));
  const [before] = await instances(orders, "recommendations");
  assert.equal(before, sidecar.mesh.instanceId);

  await app.process.kill();
  // whether the sidecar has noticed yet (UNAVAILABLE from it) or already left (NO_RESPONDERS),
  // the answer is a retryable 503 long before the 30 s deadline
  const failed = await suggest();
  assert.ok(isMeshError(failed), "a call to a dead app succeeded");
  assert.ok(["UNAVAILABLE", "NO_RESPONDERS"].includes(failed.code), `got ${failed.code}: ${failed.message}`);
  assert.equal(failed.status, 503);
  await waitFor("the sidecar to stop serving", () => !sidecar.serving);
  await waitFor(
    "the instance to leave discovery",
    async () => (await instances(orders, "recommendations")).length === 0,
  );
  const gone = await suggest();
  assert.ok(isMeshError(gone) && gone.code === "NO_RESPONDERS", `got ${String(gone)}`);
  const health = await fetch(`${sidecar.url}/v1/health`);
  assert.equal(health.status, 503, "the sidecar reports itself unready");

  app.process.start();
  await waitFor("the sidecar to serve again", () => sidecar.serving, 10_000);
  assert.ok(!isMeshError(await suggest()));
  const after = await instances(orders, "recommendations");
  assert.deepEqual(after, [sidecar.mesh.instanceId], "one instance, a new one");
  assert.notEqual(after[0], before);
});
