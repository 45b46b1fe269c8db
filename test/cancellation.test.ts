// Issue 5: a caller that gives up makes the callee's ctx.signal abort soon after (cancel messages).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defineContract, isMeshError } from "@switchyard/runtime";
import { z } from "zod";
import { eventually } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";

const work = defineContract({
  name: "work",
  version: "1.0.0",
  endpoints: {
    run: { input: z.object({ n: z.number().int() }), output: z.object({ instance: z.string() }) },
    relay: { input: z.object({ n: z.number().int() }), output: z.object({ instance: z.string() }) },
  },
});

describe("cancellation", () => {
  it("a caller that gives up aborts the callee's ctx.signal within 50 ms, down a chain of calls too", async (t) => {
    const nats = await startNats(t);
    const server = await meshFor(t, nats.url, "work");
    let abortedAt = 0;
    let reason: unknown;
    await server.serve(work, {
      // a hop in between: its own callee must be told too
      relay: (input, ctx) => ctx.client(work).run(input),
      run: async (_input, ctx) => {
        ctx.signal.addEventListener("abort", () => {
          abortedAt = performance.now();
          reason = ctx.signal.reason;
        });
        await delay(2_000);
        return { instance: "late" };
      },
    });
    const caller = await meshFor(t, nats.url, "caller");
    const delays: number[] = [];
    for (const endpoint of ["run", "run", "run", "relay", "relay"] as const) {
      abortedAt = 0;
      reason = undefined;
      const controller = new AbortController();
      const pending = caller
        .client(work)
        [endpoint]({ n: 1 }, { signal: controller.signal, timeoutMs: 5_000 });
      await delay(100);
      const gaveUpAt = performance.now();
      controller.abort();
      const e = await pending.catch((x: unknown) => x);
      assert.ok(isMeshError(e) && e.code === "CANCELLED");
      // a message of our own: without one, assert's first failure parses this file to build it
      // (~15-60 ms, synchronously), and caller and callee share this event loop
      await eventually(() => assert.ok(abortedAt > 0, "callee not aborted yet"), 1_000, 1);
      assert.ok(isMeshError(reason) && reason.code === "CANCELLED");
      delays.push(abortedAt - gaveUpAt);
    }
    t.diagnostic(`abort delays (ms): ${delays.map((d) => d.toFixed(1)).join(", ")}`);
    for (const ms of delays) assert.ok(ms < 50, `aborted ${ms} ms after the caller gave up`);
  });
});
