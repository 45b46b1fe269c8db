// Issue 2: MeshError crosses the wire and is rebuilt on the caller; NATS failures map to codes.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { headers } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { defineContract, isMeshError, MeshError } from "@switchyard/runtime";
import { z } from "zod";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { suiteScope } from "./fixtures/processes.js";

const orders = defineContract({
  name: "orders",
  version: "1.0.0",
  endpoints: {
    conflict: { input: z.object({}), output: z.object({}) },
    viaDeadDependency: { input: z.object({}), output: z.object({}) },
  },
});

describe("errors on the wire", () => {
  const scope = suiteScope();
  let nats: NatsNode;
  let dependencyRuns = 0;
  before(async () => {
    nats = await startNats(scope);
    const mesh = await meshFor(scope, nats.url, "orders", { calls: { retry: { maxAttempts: 1 } } });
    await mesh.serve(orders, {
      conflict: () => {
        throw new MeshError("CONFLICT", "order 7 is being edited", {
          details: { orderId: 7 },
          retryAfterMs: 5_000,
        });
      },
      viaDeadDependency: async (_input, ctx) => {
        dependencyRuns++;
        await ctx.call("payments", "charge", {});
        return {};
      },
    });
  });

  it("code, message, details and retry-after survive the trip", async (t) => {
    const caller = await meshFor(t, nats.url, "caller");
    const error = await caller.call("orders", "conflict", {}, { timeoutMs: 500 }).catch((e: unknown) => e);
    assert.ok(isMeshError(error));
    assert.equal(error.code, "CONFLICT");
    assert.equal(error.message, "order 7 is being edited");
    assert.deepEqual(error.details, { orderId: 7 });
    assert.equal(error.retryAfterMs, 5_000);
    assert.equal(error.status, 409);
    assert.equal(error.name, "MeshError");
  });

  it("a dependency's NO_RESPONDERS keeps its code but says the handler did run, so it is not repeated", async (t) => {
    const runsBefore = dependencyRuns;
    const caller = await meshFor(t, nats.url, "caller");
    const error = await caller
      .call("orders", "viaDeadDependency", {}, { maxAttempts: 3 })
      .catch((e: unknown) => e);
    assert.ok(isMeshError(error));
    assert.equal(error.code, "NO_RESPONDERS");
    assert.equal(error.executed, "maybe");
    assert.equal(error.blame, "callee");
    // the caller's retry would go out before its error settled: one run means none was made
    assert.equal(dependencyRuns - runsBefore, 1);
  });

  it("a plain NATS micro error without Mesh-Error maps by its status", async (t) => {
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    nc.subscribe("mesh.svc.legacy.get", {
      callback: (_e, msg) => {
        const h = headers();
        h.set("Nats-Service-Error", "no such thing");
        h.set("Nats-Service-Error-Code", "404");
        msg.respond("", { headers: h });
      },
    });
    await nc.flush();
    const caller = await meshFor(t, nats.url, "caller");
    const error = await caller.call("legacy", "get", {}).catch((e: unknown) => e);
    assert.ok(isMeshError(error));
    assert.equal(error.code, "NOT_FOUND");
    assert.equal(error.message, "no such thing");
  });

  it("bad call arguments are INVALID_ARGUMENT before anything is sent", async (t) => {
    const caller = await meshFor(t, nats.url, "caller");
    const cases: Array<() => Promise<unknown>> = [
      () => caller.call("bad.name", "x", {}),
      () => caller.call("orders", "conflict", {}, { tenant: "no spaces allowed" }),
      () => caller.call("orders", "conflict", {}, { timeoutMs: -1 }),
      () => caller.call("orders", "conflict", { big: 10n }),
    ];
    for (const run of cases) {
      const error = await run().catch((e: unknown) => e);
      assert.ok(isMeshError(error) && error.code === "INVALID_ARGUMENT", String(error));
    }
  });

  it("an aborted signal settles the call at once with CANCELLED", async (t) => {
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    let received = 0;
    nc.subscribe("mesh.svc.slow.x", {
      callback: () => {
        received++;
      },
    });
    await nc.flush();
    const caller = await meshFor(t, nats.url, "caller");
    const controller = new AbortController();
    const pending = caller.call("slow", "x", {}, { signal: controller.signal, timeoutMs: 5_000 });
    await waitFor("the request to reach the callee", () => received > 0);
    controller.abort();
    const error = await pending.catch((e: unknown) => e);
    assert.ok(isMeshError(error) && error.code === "CANCELLED");
  });
});

describe("losing the NATS server", () => {
  it("calls in flight fail with UNAVAILABLE at once, and calls work again after a restart", async (t) => {
    const nats = await startNats(t);
    const server = await meshFor(t, nats.url, "echo");
    const slow = defineContract({
      name: "slow",
      version: "1.0.0",
      endpoints: { wait: { input: z.object({ ms: z.number() }), output: z.object({}) } },
    });
    let waiting = 0;
    await server.serve(slow, {
      wait: async ({ ms }) => {
        waiting++;
        await delay(ms); // the handler's work: the call is in flight meanwhile
        return {};
      },
    });
    const caller = await meshFor(t, nats.url, "caller", { calls: { retry: { maxAttempts: 1 } } });
    const started = performance.now();
    const pending = caller
      .call("slow", "wait", { ms: 3_000 }, { timeoutMs: 10_000 })
      .catch((e: unknown) => e);
    await waitFor("the call to be in flight", () => waiting > 0);
    await nats.process.kill();
    const error = await pending;
    assert.ok(isMeshError(error) && error.code === "UNAVAILABLE", String(error));
    assert.ok(performance.now() - started < 2_000, "not a timeout");

    // while the server is gone a call fails fast too (it retries within its deadline, then gives up)
    const down = await caller.call("slow", "wait", { ms: 0 }, { timeoutMs: 300 }).catch((e: unknown) => e);
    assert.ok(isMeshError(down) && ["UNAVAILABLE", "DEADLINE_EXCEEDED"].includes(down.code));

    await nats.restart();
    await eventually(
      async () => {
        const result = await caller
          .call("slow", "wait", { ms: 0 }, { timeoutMs: 1_000, maxAttempts: 3 })
          .catch((e: unknown) => e);
        assert.ok(!isMeshError(result), `no recovery: ${isMeshError(result) ? result.code : ""}`);
      },
      10_000,
      100,
    );
  });
});
