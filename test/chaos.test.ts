// Issue 15 (failures the mesh causes itself): the NATS node a caller is connected to dies under
// load. Calls in flight lose their replies and calls made meanwhile cannot be sent; both wait for
// the reconnect (to another node) within their deadlines instead of failing every attempt at once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { controllerContract } from "@switchyard/controller";
import { isMeshError } from "@switchyard/runtime";
import { echoContract } from "./fixtures/contracts.js";
import { controllerFor } from "./fixtures/controller.js";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { startNatsCluster } from "./fixtures/nats-server.js";

const CALLS = 2_000;
const IN_FLIGHT = 100;
const DEADLINE_MS = 2_000;
// a timer fires after its time, never before: how late, on a loaded machine, is not the runtime's
const TIMER_LATENESS_MS = 100;
const sayTimeout = (timeoutMs: number) => ({ services: { echo: { endpoints: { say: { timeoutMs } } } } });

describe("chaos: a NATS node dies under load", () => {
  it("SIGKILL of the caller's node: 0 failed calls, none settled past its deadline", async (t) => {
    const cluster = await startNatsCluster(t, 3);
    const caller = await meshFor(t, cluster.urls, "caller", { policy: { follow: false } });
    const port = caller.connection.info?.port;
    const home = cluster.nodes.find((n) => n.port === port);
    assert.ok(home, `the caller is connected to a cluster node (port ${port})`);
    // the callee lives on the other nodes, so only the caller loses its connection
    for (const node of cluster.nodes.filter((n) => n !== home)) {
      const callee = await meshFor(t, node.url, "echo", { policy: { follow: false } });
      await callee.serve(echoContract, {
        say: ({ text }) => ({ text }),
        sayAgain: async ({ text, delayMs }) => {
          await delay(delayMs ?? 0); // the callee's work: keeps calls in flight
          return { text };
        },
      });
    }
    // the callee's interest reaches the caller's node over the cluster routes
    await eventually(() => caller.call("echo", "sayAgain", { text: "warm" }), 10_000, 50);

    let started = 0;
    let settled = 0;
    const failures: string[] = [];
    const late: number[] = [];
    const worker = async () => {
      while (started < CALLS) {
        started++;
        const at = performance.now();
        try {
          // idempotent (the contract says so): a call whose reply the dead node lost may be repeated
          await caller.call(echoContract, "sayAgain", { text: "x", delayMs: 5 }, { timeoutMs: DEADLINE_MS });
        } catch (error) {
          failures.push(isMeshError(error) ? `${error.code}: ${error.message}` : String(error));
        }
        const tookMs = performance.now() - at;
        if (tookMs > DEADLINE_MS + TIMER_LATENESS_MS) late.push(Math.round(tookMs));
        settled++;
      }
    };
    const load = Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await waitFor("a quarter of the calls to settle", () => settled >= CALLS / 4, 60_000);
    await home.process.kill();
    await load;
    const now = caller.connection.info?.port;
    t.diagnostic(`reconnected from port ${port} to ${now}; ${failures.length} failed`);
    assert.notEqual(now, port, "the caller moved to another node");
    assert.deepEqual(failures, []);
    assert.deepEqual(late, [], "calls settled past their deadline (ms)");
    assert.equal(settled, CALLS);
  });

  it("the node leading the policy bucket dies: an apply at once succeeds, or says the store is electing", async (t) => {
    const cluster = await startNatsCluster(t, 3);
    await controllerFor(t, cluster.urls, 3);
    const adminMesh = await meshFor(t, cluster.urls, "admin");
    const admin = adminMesh.client(controllerContract);
    const v1 = await eventually(() => admin.apply({ document: sayTimeout(1_000) }), 20_000, 200);
    const jsm = await jetstreamManager(adminMesh.connection);
    const leaderName = (await jsm.streams.info("KV_mesh-policy")).cluster?.leader;
    const leader = cluster.nodes[Number(leaderName?.slice(1)) - 1];
    assert.ok(leader, `the bucket's leader (${leaderName}) is a node of the cluster`);
    await leader.process.kill();

    // one apply, no retries by the test: the controller retries within the apply's deadline
    const outcome = await admin
      .apply({ document: sayTimeout(1_500), expectedVersion: v1.version })
      .catch((e: unknown) => e);
    t.diagnostic(
      `apply after killing ${leaderName}: ${isMeshError(outcome) ? outcome.message : "succeeded"}`,
    );
    if (isMeshError(outcome)) {
      assert.equal(outcome.code, "UNAVAILABLE", outcome.message);
      assert.match(outcome.message, /electing a leader/);
    } else {
      assert.equal((outcome as { version: number }).version, v1.version + 1);
    }
  });
});
