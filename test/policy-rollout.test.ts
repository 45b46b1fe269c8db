// Issue 3: policy applied by the controller reaches every runtime live; bad and stale policy never does.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { controllerContract } from "@switchyard/controller";
import { isMeshError, type Mesh } from "@switchyard/runtime";
import { type AppliedReportType, appliedSubject, DEFAULT_PREFIX, POLICY_BUCKET } from "@switchyard/schemas";
import { echoContract, slowEcho } from "./fixtures/contracts.js";
import { controllerFor } from "./fixtures/controller.js";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";
import type { Cleanup } from "./fixtures/processes.js";

async function echoInstances(t: Cleanup, url: string, n: number): Promise<Mesh[]> {
  const meshes: Mesh[] = [];
  for (let i = 0; i < n; i++) {
    const mesh = await meshFor(t, url, "echo");
    await mesh.serve(echoContract, slowEcho);
    meshes.push(mesh);
  }
  return meshes;
}

const sayTimeout = (timeoutMs: number) => ({
  services: { echo: { endpoints: { say: { timeoutMs } } } },
});

/** A controller, one echo instance and a caller, with `sayTimeout(2_000)` applied and running. */
async function rolledOut(t: Cleanup, url: string) {
  await controllerFor(t, url);
  const [instance] = await echoInstances(t, url, 1);
  const caller = await meshFor(t, url, "caller");
  const admin = caller.client(controllerContract);
  const applied = await admin.apply({ document: sayTimeout(2_000) });
  await eventually(() => assert.equal(instance?.policyVersion, applied.version));
  return { instance, caller, admin, applied };
}

/** Runtime reports on the applied subject, as they arrive. */
async function appliedReports(t: Cleanup, url: string): Promise<AppliedReportType[]> {
  const nc = await connect({ servers: url });
  t.after(() => nc.close());
  const reports: AppliedReportType[] = [];
  nc.subscribe(appliedSubject(DEFAULT_PREFIX), {
    callback: (_err, msg) => {
      reports.push(msg.json());
    },
  });
  await nc.flush();
  return reports;
}

describe("policy rollout", () => {
  const nats = suiteNats({ jetstream: true });

  // how soon every instance reports is a speed: the bench's policy-propagation suite measures it
  it("apply lowers a timeout: all instances report it and calls now time out", async (t) => {
    const controller = await controllerFor(t, nats.url);
    const instances = await echoInstances(t, nats.url, 3);
    const caller = await meshFor(t, nats.url, "caller");
    const echo = caller.client(echoContract);
    const admin = caller.client(controllerContract);
    assert.deepEqual(await echo.say({ text: "slow", delayMs: 300 }), { text: "slow" });

    const base = (await admin.status({})).version;
    const applied = await admin.apply({ document: sayTimeout(100), author: "test" });
    assert.equal(applied.version, base + 1);
    await eventually(async () => {
      const status = await admin.status({});
      const echoes = status.instances.filter((i) => i.service === "echo");
      assert.equal(echoes.length, 3);
      for (const i of echoes) assert.equal(i.state, "current");
    }, 10_000);
    for (const mesh of [...instances, caller]) assert.equal(mesh.policyVersion, applied.version);

    const error = await echo.say({ text: "slow", delayMs: 300 }).catch((e: unknown) => e);
    assert.ok(isMeshError(error) && error.code === "DEADLINE_EXCEEDED", String(error));
    assert.deepEqual(await echo.say({ text: "fast" }), { text: "fast" });
    await controller.close();
  });

  it("an invalid document is refused with every path, and nothing changes anywhere", async (t) => {
    const { instance, caller, admin, applied: before } = await rolledOut(t, nats.url);

    const invalid = {
      defaults: { timeoutMs: "fast" },
      services: { echo: { timeoutMS: 10 } },
      quotas: [
        {
          name: "q",
          match: { service: "*", endpoint: "*" },
          rate: -5,
          periodMs: 1_000,
          onStoreFailure: "open",
        },
      ],
    };
    const error = await admin.apply({ document: invalid }).catch((e: unknown) => e);
    assert.ok(isMeshError(error) && error.code === "INVALID_ARGUMENT");
    const paths = (error.details as { issues: Array<{ path: Array<string | number> }> }).issues
      .map((i) => i.path.join("."))
      .sort();
    assert.deepEqual(paths, ["defaults.timeoutMs", "quotas.0.rate", "services.echo"]);
    assert.equal((await admin.get({})).version, before.version);
    assert.equal(instance?.policyVersion, before.version);
    assert.equal(caller.policyVersion, before.version);
    // the next valid apply is the very next version and reaches everyone: nothing came in between
    const next = await admin.apply({ document: sayTimeout(2_500) });
    assert.equal(next.version, before.version + 1);
    for (const mesh of [instance, caller])
      await eventually(() => assert.equal(mesh?.policyVersion, next.version));
  });

  it("a forged push on the config subject is ignored by every runtime, older or newer", async (t) => {
    const { instance, caller, admin, applied: real } = await rolledOut(t, nats.url);
    const snapshot = await admin.get({});
    const reports = await appliedReports(t, nats.url);

    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    const forge = (version: number) =>
      nc.publish("mesh.config.policy", JSON.stringify({ ...snapshot, version, document: sayTimeout(1) }));
    forge(real.version - 1);
    forge(real.version + 100);
    await nc.flush();
    // each runtime says what it made of each push: the older ignored at once, the newer rejected
    // once KV, re-read several times, still does not hold it
    const heard = (status: string, about: number) =>
      new Set(reports.filter((r) => r.status === status && r.about === about).map((r) => r.instanceId));
    for (const mesh of [instance, caller]) {
      await waitFor(`${mesh?.name} to report both forged pushes`, () => {
        const id = mesh?.instanceId ?? "";
        return heard("ignored", real.version - 1).has(id) && heard("rejected", real.version + 100).has(id);
      });
    }
    assert.equal(instance?.policyVersion, real.version);
    assert.equal(caller.policyVersion, real.version);
    assert.deepEqual(await caller.client(echoContract).say({ text: "x", delayMs: 50 }), { text: "x" });
  });

  it("an invalid snapshot in KV is rejected by every runtime: the last good stays, status says why", async (t) => {
    const { instance, caller, admin, applied: good } = await rolledOut(t, nats.url);
    // a newer controller, or a hand edit, writes a document this runtime cannot accept
    const snapshot = await admin.get({});
    t.after(async () => {
      // leave the suite's shared KV with a valid current version
      await admin.apply({ document: {} }).catch(() => undefined);
    });
    const bad = {
      ...snapshot,
      version: good.version + 1,
      document: { ...snapshot.document, defaults: { timeoutMs: -5 } },
    };
    const kv = await new Kvm(caller.connection).open(POLICY_BUCKET);
    await kv.put("current", JSON.stringify(bad));
    caller.connection.publish("mesh.config.policy", JSON.stringify(bad));
    await eventually(async () => {
      const status = await admin.status({});
      const echo = status.instances.find((i) => i.service === "echo");
      assert.equal(echo?.state, "rejected");
      assert.equal(echo?.version, good.version);
      assert.match(echo?.reason ?? "", /defaults\.timeoutMs/);
    }, 3_000);
    assert.equal(instance?.policyVersion, good.version);
    assert.deepEqual(await caller.client(echoContract).say({ text: "still" }), { text: "still" });
    // the controller's next apply heals it
    const healed = await admin.apply({ document: sayTimeout(2_500) });
    await eventually(() => assert.equal(instance?.policyVersion, healed.version));
  });

  it("rollback restores the old behaviour as a new version, and history shows both", async (t) => {
    await controllerFor(t, nats.url);
    await echoInstances(t, nats.url, 1);
    const caller = await meshFor(t, nats.url, "caller");
    const admin = caller.client(controllerContract);
    const echo = caller.client(echoContract);
    const generous = await admin.apply({ document: sayTimeout(3_000), note: "generous" });
    const strict = await admin.apply({ document: sayTimeout(50), note: "strict" });
    await eventually(() => assert.equal(caller.policyVersion, strict.version));
    const failed = await echo.say({ text: "x", delayMs: 200 }).catch((e: unknown) => e);
    assert.ok(isMeshError(failed) && failed.code === "DEADLINE_EXCEEDED");

    const rolled = await admin.rollback({ toVersion: generous.version });
    assert.equal(rolled.version, strict.version + 1);
    assert.equal(rolled.rollbackOf, generous.version);
    await eventually(() => assert.equal(caller.policyVersion, rolled.version));
    assert.deepEqual(await echo.say({ text: "x", delayMs: 200 }), { text: "x" });

    const { versions } = await admin.history({ limit: 3 });
    assert.deepEqual(
      versions.map((v) => v.version),
      [rolled.version, strict.version, generous.version],
    );
    const diff = await admin.diff({ from: strict.version, to: rolled.version });
    assert.match(diff.text, /services\.echo\.endpoints\.say\.timeoutMs: 50 → 3000/);
  });

  it("concurrent applies: one wins, the other gets CONFLICT, nothing is half-written", async (t) => {
    await controllerFor(t, nats.url);
    const caller = await meshFor(t, nats.url, "caller");
    const admin = caller.client(controllerContract);
    const current = (await admin.status({})).version;
    const results = await Promise.all(
      [100, 200, 300, 400].map((ms) =>
        admin.apply({ document: sayTimeout(ms), expectedVersion: current }).catch((e: unknown) => e),
      ),
    );
    const wins = results.filter((r) => !isMeshError(r));
    const conflicts = results.filter((r) => isMeshError(r) && r.code === "CONFLICT");
    assert.equal(wins.length, 1);
    assert.equal(conflicts.length, 3);
    const got = await admin.get({});
    assert.equal(got.version, current + 1);
    const { versions } = await admin.history({ limit: 2 });
    assert.equal(versions[0]?.version, current + 1);
  });
});
