// Issue 3: a controller outage changes nothing for running services, and a runtime that missed a
// push while its NATS node was down converges once it reconnects.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { controllerContract } from "@switchyard/controller";
import { echoContract, slowEcho } from "./fixtures/contracts.js";
import { controllerFor, controllerProcess } from "./fixtures/controller.js";
import { eventually } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { startNats, startNatsCluster } from "./fixtures/nats-server.js";

const sayTimeout = (timeoutMs: number) => ({ services: { echo: { endpoints: { say: { timeoutMs } } } } });

describe("control plane faults", () => {
  it("the controller is killed: services keep serving; a new instance boots from KV; status recovers", async (t) => {
    const nats = await startNats(t, { jetstream: true });
    let controller = controllerProcess(t, nats.url);
    const first = await meshFor(t, nats.url, "echo");
    await first.serve(echoContract, slowEcho);
    const caller = await meshFor(t, nats.url, "caller");
    const admin = caller.client(controllerContract);
    const applied = await eventually(() => admin.apply({ document: sayTimeout(2_500) }), 20_000, 200);
    await eventually(() => assert.equal(first.policyVersion, applied.version));

    const exited = new Promise((resolve) => controller.once("exit", resolve));
    controller.kill("SIGKILL");
    await exited;
    assert.deepEqual(await caller.client(echoContract).say({ text: "still" }), { text: "still" });

    const second = await meshFor(t, nats.url, "echo");
    await second.serve(echoContract, slowEcho);
    assert.equal(second.policyVersion, applied.version, "booted with the current policy from KV");
    for (let i = 0; i < 6; i++)
      assert.deepEqual(await caller.client(echoContract).say({ text: `${i}` }), { text: `${i}` });

    controller = controllerProcess(t, nats.url);
    await eventually(
      async () => {
        const status = await admin.status({}, { timeoutMs: 1_000 });
        assert.equal(status.version, applied.version);
        const echoes = status.instances.filter((i) => i.service === "echo");
        assert.deepEqual(
          echoes.map((i) => i.instanceId).sort(),
          [first.instanceId, second.instanceId].sort(),
        );
        for (const i of echoes) assert.equal(i.state, "current");
      },
      20_000,
      200,
    );
  });

  it("a runtime whose NATS node is down during an apply converges after it reconnects", async (t) => {
    const cluster = await startNatsCluster(t, 3);
    const [n1, n2, n3] = cluster.nodes;
    assert.ok(n1 && n2 && n3);
    await controllerFor(t, [n1.url, n2.url], 3);
    const adminMesh = await meshFor(t, [n1.url, n2.url], "admin");
    const admin = adminMesh.client(controllerContract);
    const v1 = await eventually(() => admin.apply({ document: sayTimeout(1_000) }), 20_000, 200);

    // this runtime knows only node 3, so while node 3 is down it is cut off
    const isolated = await meshFor(t, n3.url, "echo", { ignoreClusterUpdates: true });
    await isolated.serve(echoContract, slowEcho);
    await eventually(() => assert.equal(isolated.policyVersion, v1.version), 10_000);

    await n3.process.kill();
    // node 3 may have led the policy stream: the write waits for a new leader, so apply until
    // the version after v1 exists (checking first, since a timed-out apply may have landed)
    const v2 = await eventually(
      async () => {
        const current = await admin.get({}, { timeoutMs: 2_000 });
        if (current.version > v1.version) return current;
        return await admin.apply({ document: sayTimeout(1_500), expectedVersion: v1.version });
      },
      30_000,
      250,
    );
    // the push went out: the runtimes that can hear it run v2 now
    await eventually(() => assert.equal(adminMesh.policyVersion, v2.version), 10_000);
    assert.equal(isolated.policyVersion, v1.version, "the push could not reach it");

    await n3.restart();
    await eventually(() => assert.equal(isolated.policyVersion, v2.version), 20_000, 100);
  });
});
