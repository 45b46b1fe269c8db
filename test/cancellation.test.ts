// Issue 5: a caller that gives up makes the callee's ctx.signal abort soon after (cancel messages).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defineContract, isMeshError } from "@switchyard/runtime";
import { z } from "zod";
import { waitFor } from "./fixtures/eventually.js";
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
  // how soon the callee hears of it is a speed: the bench's cancellation suite measures it
  it("a caller that gives up aborts the callee's ctx.signal with CANCELLED, down a chain of calls too", async (t) => {
    const nats = await startNats(t);
    const server = await meshFor(t, nats.url, "work");
    let running = 0;
    let aborted = 0;
    let reason: unknown;
    await server.serve(work, {
      // a hop in between: its own callee must be told too
      relay: (input, ctx) => ctx.client(work).run(input),
      run: async (_input, ctx) => {
        running++;
        ctx.signal.addEventListener("abort", () => {
          aborted++;
          reason = ctx.signal.reason;
        });
        await delay(2_000); // the handler's work, far longer than the caller waits
        return { instance: "late" };
      },
    });
    const caller = await meshFor(t, nats.url, "caller");
    for (const endpoint of ["run", "run", "run", "relay", "relay"] as const) {
      const before = { running, aborted };
      reason = undefined;
      const controller = new AbortController();
      const pending = caller
        .client(work)
        [endpoint]({ n: 1 }, { signal: controller.signal, timeoutMs: 5_000 });
      await waitFor(`the ${endpoint} call to reach the callee`, () => running > before.running);
      controller.abort();
      const e = await pending.catch((x: unknown) => x);
      assert.ok(isMeshError(e) && e.code === "CANCELLED");
      await waitFor(`the callee of ${endpoint} to be aborted`, () => aborted > before.aborted, 2_000);
      assert.ok(isMeshError(reason) && reason.code === "CANCELLED");
    }
  });
});
