// Issue 2: deadlines travel in Mesh-Timeout, shrink per hop, and every call settles by its deadline.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headers } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { defineContract, isMeshError } from "@switchyard/runtime";
import { z } from "zod";
import { waitFor } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";

/** How late a call may settle after its deadline: timer lateness on a busy 2-core machine. */
const SETTLE_MARGIN_MS = 50;

const hop = (name: string) =>
  defineContract({
    name,
    version: "1.0.0",
    endpoints: {
      run: { input: z.object({ holdMs: z.number() }), output: z.object({ budgets: z.array(z.number()) }) },
    },
  });
const a = hop("hop-a");
const b = hop("hop-b");
const c = hop("hop-c");

describe("deadlines", () => {
  const nats = suiteNats();

  it("a 3-hop chain shrinks the budget per hop and an overrunning c fails a's call in time", async (t) => {
    const mesh = await meshFor(t, nats.url, "chain");
    let cSignal: AbortSignal | undefined;
    let cAbortedAfterMs: number | undefined;
    await mesh.serve(a, {
      run: async (input, ctx) => {
        const budget = ctx.remainingMs();
        const down = await ctx.client(b).run(input);
        return { budgets: [budget, ...down.budgets] };
      },
    });
    await mesh.serve(b, {
      run: async (input, ctx) => {
        const budget = ctx.remainingMs();
        await delay(50); // time spent in b must come off c's budget
        const down = await ctx.client(c).run(input);
        return { budgets: [budget, ...down.budgets] };
      },
    });
    await mesh.serve(c, {
      run: async ({ holdMs }, ctx) => {
        const start = performance.now();
        cSignal = ctx.signal;
        ctx.signal.addEventListener("abort", () => {
          cAbortedAfterMs = performance.now() - start;
        });
        await delay(holdMs); // the handler's work: 2 s overruns every deadline here
        return { budgets: [ctx.remainingMs()] };
      },
    });

    const caller = await meshFor(t, nats.url, "caller");
    const fast = await caller.client(a).run({ holdMs: 0 }, { timeoutMs: 1_000 });
    const [aBudget, bBudget, cBudget] = fast.budgets as [number, number, number];
    assert.ok(aBudget <= 1_000, `a got ${aBudget}`);
    assert.ok(bBudget < aBudget, `b ${bBudget} < a ${aBudget}`);
    assert.ok(cBudget <= bBudget - 50, `c ${cBudget} <= b ${bBudget} - 50`);

    const started = performance.now();
    const error = await caller
      .client(a)
      .run({ holdMs: 2_000 }, { timeoutMs: 400 })
      .then(
        () => assert.fail("expected DEADLINE_EXCEEDED"),
        (e: unknown) => e,
      );
    const elapsed = performance.now() - started;
    assert.ok(isMeshError(error));
    assert.equal(error.code, "DEADLINE_EXCEEDED");
    assert.ok(elapsed < 400 + SETTLE_MARGIN_MS, `settled after ${elapsed} ms`);
    // c's deadline is a's plus the transit of each hop (budgets are relative), so allow the margin
    await waitFor("c's signal to abort", () => cSignal?.aborted === true, SETTLE_MARGIN_MS);
    assert.ok(cSignal?.aborted, "c's signal aborted");
    assert.ok(cAbortedAfterMs !== undefined && cAbortedAfterMs < 400, `c aborted after ${cAbortedAfterMs}`);
    assert.equal((cSignal?.reason as { code?: string } | undefined)?.code, "DEADLINE_EXCEEDED");
  });

  it("a request that arrives with no budget left is refused before the handler runs", async (t) => {
    const mesh = await meshFor(t, nats.url, "spent");
    let ran = 0;
    await mesh.serve(c, {
      run: () => {
        ran++;
        return { budgets: [] };
      },
    });
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    for (const value of ["0", "-25"]) {
      const h = headers();
      h.set("Mesh-Timeout", value);
      const reply = await nc.request("mesh.svc.hop-c.run", JSON.stringify({ holdMs: 0 }), {
        timeout: 2_000,
        headers: h,
      });
      assert.equal(reply.headers?.get("Mesh-Error"), "DEADLINE_EXCEEDED");
      assert.equal(reply.headers?.get("Nats-Service-Error-Code"), "504");
    }
    assert.equal(ran, 0);
  });

  it("a call settles by its deadline when the callee never answers", async (t) => {
    const mesh = await meshFor(t, nats.url, "silent");
    // a raw subscriber that swallows requests: the worst callee there is
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    nc.subscribe("mesh.svc.blackhole.x", { callback: () => {} });
    await nc.flush();
    for (const timeoutMs of [50, 200]) {
      const started = performance.now();
      const error = await mesh.call("blackhole", "x", {}, { timeoutMs }).catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      assert.ok(isMeshError(error) && error.code === "DEADLINE_EXCEEDED");
      assert.ok(elapsed >= timeoutMs - 1 && elapsed < timeoutMs + SETTLE_MARGIN_MS, `${elapsed} ms`);
    }
  });
});
