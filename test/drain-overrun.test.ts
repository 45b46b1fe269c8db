// Issue 15 (drain and overrun): close() counts calls waiting to retry; what handlers use stays
// open until those that overran the drain end or are abandoned (with a log line); a handler that
// ignores its abort signal gives its concurrency slot back at its deadline, and sends no late reply.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headers } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { defineContract, isMeshError, MeshError } from "@switchyard/runtime";
import { z } from "zod";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { captureLogs, delay, meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";

const chores = defineContract({
  name: "chores",
  version: "1.0.0",
  endpoints: {
    /** Refuses its first attempt with a Retry-After, so the caller waits in a back-off. */
    later: { input: z.object({}), output: z.object({ attempt: z.number() }) },
    /** Works `ms` ignoring its abort signal (0: never ends). */
    stubborn: { input: z.object({ ms: z.number().int().min(0) }), output: z.object({ done: z.boolean() }) },
  },
});

const never = new Promise<never>(() => undefined);

describe("drain and overrun", () => {
  const nats = suiteNats();

  /** A `chores` instance whose stubborn handler reports when it starts and ends. */
  async function serveChores(t: Parameters<typeof meshFor>[0], options: Parameters<typeof meshFor>[3] = {}) {
    const state = { started: 0, ended: 0, firstAttempts: 0 };
    const mesh = await meshFor(t, nats.url, "chores", options);
    await mesh.serve(chores, {
      later: (_input, ctx) => {
        if (ctx.attempt === 1) {
          state.firstAttempts++;
          throw new MeshError("QUOTA_EXCEEDED", "come back later", { retryAfterMs: 500 });
        }
        return { attempt: ctx.attempt };
      },
      stubborn: async ({ ms }) => {
        state.started++;
        await (ms === 0 ? never : delay(ms)); // work that never looks at ctx.signal
        state.ended++;
        return { done: true };
      },
    });
    return { mesh, state };
  }

  it("close() waits for a call in its retry back-off, which then succeeds", async (t) => {
    const { state } = await serveChores(t);
    const caller = await meshFor(t, nats.url, "caller");
    let settledAt = 0;
    const call = caller.call(chores, "later", {}, { timeoutMs: 10_000 }).finally(() => {
      settledAt = performance.now();
    });
    await waitFor("the first attempt to be refused", () => state.firstAttempts === 1);
    await caller.close();
    const closedAt = performance.now();
    assert.deepEqual(await call, { attempt: 2 });
    assert.ok(settledAt > 0 && settledAt <= closedAt, "the call settled before close() resolved");
  });

  it("close() waits for a handler that overran the drain timeout until it ends", async (t) => {
    const { mesh, state } = await serveChores(t, { drainTimeoutMs: 100 });
    const caller = await meshFor(t, nats.url, "caller");
    const call = caller.call(chores, "stubborn", { ms: 1_000 }, { timeoutMs: 10_000 });
    await waitFor("the handler to start", () => state.started === 1);
    await mesh.close();
    assert.equal(state.ended, 1, "the handler ended before Redis and the connection closed");
    assert.deepEqual(await call, { done: true });
  });

  it("a handler still running past its deadline is abandoned, with a log line", async (t) => {
    const logs = captureLogs("warn");
    const { mesh, state } = await serveChores(t, { drainTimeoutMs: 100, logger: logs.logger });
    const caller = await meshFor(t, nats.url, "caller", { calls: { retry: { maxAttempts: 1 } } });
    const call = caller.call(chores, "stubborn", { ms: 0 }, { timeoutMs: 500 }).catch((e: unknown) => e);
    await waitFor("the handler to start", () => state.started === 1);
    await mesh.close();
    const error = await call;
    assert.ok(isMeshError(error) && error.code === "DEADLINE_EXCEEDED", String(error));
    const abandoned = logs.lines.find(
      (l) => l["msg"] === "abandoning handlers still running past their deadline",
    );
    assert.ok(abandoned, JSON.stringify(logs.lines));
    assert.equal(abandoned["handlers"], 1);
  });

  it("a handler that ignores its signal frees its slot at the deadline; its late reply is not sent", async (t) => {
    const { state } = await serveChores(t, { calls: { concurrency: { limit: 1 } } });
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    const inbox = "late.replies";
    let late = 0;
    nc.subscribe(inbox, {
      callback: () => {
        late++;
      },
    });
    const h = headers();
    h.set("Mesh-Timeout", "300");
    nc.publish("mesh.svc.chores.stubborn", JSON.stringify({ ms: 2_000 }), { reply: inbox, headers: h });
    await waitFor("the stubborn handler to hold the only slot", () => state.started === 1);

    // once its deadline has passed, the slot (one per endpoint) is free although the handler runs
    const caller = await meshFor(t, nats.url, "caller", { calls: { retry: { maxAttempts: 1 } } });
    await eventually(() => caller.call(chores, "stubborn", { ms: 1 }, { timeoutMs: 1_000 }), 1_500, 25);
    assert.equal(state.ended, 1, "only the quick one ended: the stubborn handler is still running");

    await waitFor("the stubborn handler to end", () => state.ended === 2, 10_000);
    // a reply the instance sent after the late one arrives after it: nothing came before this one
    const probe = await nc.request("mesh.svc.chores.stubborn", JSON.stringify({ ms: 1 }), { timeout: 5_000 });
    assert.deepEqual(probe.json(), { done: true });
    assert.equal(late, 0, "no reply past the deadline");
  });
});
