// Issue 2: retries happen only when safe, back off, honour Mesh-Retry-After, and stay within budget.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headers, type Msg } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { isMeshError } from "@switchyard/runtime";
import { echoContract } from "./fixtures/contracts.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";

describe("retries", () => {
  const nats = suiteNats();

  it("a call to a service that starts 300 ms late succeeds through retries on NO_RESPONDERS", async (t) => {
    const caller = await meshFor(t, nats.url, "caller", {
      calls: { retry: { maxAttempts: 10, backoff: { baseMs: 50, maxMs: 400 } } },
    });
    const server = await meshFor(t, nats.url, "echo");
    // the service starts 300 ms after the caller: a schedule for the test, not a wait for a condition
    const late = delay(300).then(() =>
      server.serve(echoContract, { say: ({ text }) => ({ text }), sayAgain: ({ text }) => ({ text }) }),
    );
    const started = performance.now();
    // not idempotent: NO_RESPONDERS proves nobody ran it, so retrying is still safe
    const out = await caller.client(echoContract).say({ text: "late" }, { timeoutMs: 4_000 });
    assert.deepEqual(out, { text: "late" });
    assert.ok(performance.now() - started >= 250);
    await late;
  });

  it("a non-idempotent endpoint that times out is called exactly once", async (t) => {
    const server = await meshFor(t, nats.url, "echo");
    let calls = 0;
    await server.serve(echoContract, {
      say: async ({ text }) => {
        calls++;
        await delay(300); // the handler's work, longer than the attempt timeout
        return { text };
      },
      sayAgain: ({ text }) => ({ text }),
    });
    const caller = await meshFor(t, nats.url, "caller");
    const error = await caller
      .client(echoContract)
      .say({ text: "once" }, { timeoutMs: 1_000, attemptTimeoutMs: 100, maxAttempts: 5 })
      .catch((e: unknown) => e);
    assert.ok(isMeshError(error) && error.code === "DEADLINE_EXCEEDED");
    // a retry would have left this connection before the caller gave up, so it would reach the
    // callee before this marker does (NATS keeps one connection's order)
    assert.deepEqual(await caller.client(echoContract).sayAgain({ text: "marker" }), { text: "marker" });
    assert.equal(calls, 1);
  });

  it("an idempotent endpoint that times out is retried with the same key and a growing attempt", async (t) => {
    const server = await meshFor(t, nats.url, "echo");
    const seen: Array<{ attempt: number; key: string | undefined }> = [];
    await server.serve(echoContract, {
      say: ({ text }) => ({ text }),
      sayAgain: async ({ text }, ctx) => {
        seen.push({ attempt: ctx.attempt, key: ctx.idempotencyKey });
        if (seen.length === 1) await delay(300); // the first attempt's work outlasts its timeout
        return { text };
      },
    });
    const caller = await meshFor(t, nats.url, "caller");
    const out = await caller
      .client(echoContract)
      .sayAgain({ text: "again" }, { timeoutMs: 2_000, attemptTimeoutMs: 100 });
    assert.deepEqual(out, { text: "again" });
    assert.deepEqual(
      seen.map((s) => s.attempt),
      [1, 2],
    );
    assert.ok(seen[0]?.key !== undefined && seen[0].key === seen[1]?.key);
  });

  it("with the downstream failing, attempts stay within the retry budget", async (t) => {
    // a raw responder that sheds everything: OVERLOADED is retryable even when not idempotent
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    let received = 0;
    nc.subscribe("mesh.svc.shedder.work", {
      queue: "shedder",
      callback: (_err, msg: Msg) => {
        received++;
        const h = headers();
        h.set("Nats-Service-Error", "shed");
        h.set("Nats-Service-Error-Code", "503");
        h.set("Mesh-Error", "OVERLOADED");
        msg.respond(JSON.stringify({ code: "OVERLOADED", message: "shed" }), { headers: h });
      },
    });
    await nc.flush();
    const caller = await meshFor(t, nats.url, "caller", {
      calls: {
        retry: {
          maxAttempts: 5,
          backoff: { baseMs: 1, maxMs: 5 },
          budget: { ratio: 0.1, minPerSecond: 1, windowMs: 10_000 },
        },
        // this test is about the budget alone: the breaker would cut the storm short by itself
        breaker: { enabled: false },
      },
    });
    const calls = 200;
    const results = await Promise.all(
      Array.from({ length: calls }, () => caller.call("shedder", "work", {}).catch((e: unknown) => e)),
    );
    for (const r of results) {
      assert.ok(isMeshError(r), "every call fails");
      if (r.code === "RETRY_BUDGET_EXHAUSTED") {
        assert.equal((r.cause as { code?: string }).code, "OVERLOADED", "the cause is the last error");
      } else assert.equal(r.code, "OVERLOADED");
    }
    assert.ok(results.some((r) => isMeshError(r) && r.code === "RETRY_BUDGET_EXHAUSTED"));
    // budget: 10% of 200 calls + 1/s over a 10 s window; without it there would be 1,000 attempts
    assert.ok(received <= calls + 0.1 * calls + 10, `received ${received}`);
    assert.ok(received > calls, "some retries did happen");
  });

  it("Mesh-Retry-After is honoured before the next attempt", async (t) => {
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    const arrivals: number[] = [];
    nc.subscribe("mesh.svc.limited.work", {
      callback: (_err, msg: Msg) => {
        arrivals.push(performance.now());
        if (arrivals.length > 1) {
          msg.respond(JSON.stringify({ ok: true }));
          return;
        }
        const h = headers();
        h.set("Nats-Service-Error", "slow down");
        h.set("Nats-Service-Error-Code", "429");
        h.set("Mesh-Error", "QUOTA_EXCEEDED");
        h.set("Mesh-Retry-After", "200");
        msg.respond(JSON.stringify({ code: "QUOTA_EXCEEDED", message: "slow down" }), { headers: h });
      },
    });
    await nc.flush();
    const caller = await meshFor(t, nats.url, "caller");
    assert.deepEqual(await caller.call("limited", "work", {}, { timeoutMs: 2_000 }), { ok: true });
    assert.equal(arrivals.length, 2);
    assert.ok((arrivals[1] as number) - (arrivals[0] as number) >= 195);

    // a retry-after beyond the deadline is not waited for: the caller gets the denial at once
    // (how soon is a speed: the bench's fail-fast suite measures it)
    arrivals.length = 0;
    const error = await caller.call("limited", "work", {}, { timeoutMs: 100 }).catch((e: unknown) => e);
    assert.ok(isMeshError(error) && error.code === "QUOTA_EXCEEDED" && error.retryAfterMs === 200);
    assert.equal(arrivals.length, 1, "no attempt after the denial");

    // issue 15: one within the deadline that would leave the retry less time than the wait is not
    // waited for either (the demo's globex orders, admitted with 37 ms left, ended as 504s)
    arrivals.length = 0;
    const squeezed = await caller.call("limited", "work", {}, { timeoutMs: 300 }).catch((e: unknown) => e);
    assert.ok(isMeshError(squeezed) && squeezed.code === "QUOTA_EXCEEDED", String(squeezed));
    assert.equal(arrivals.length, 1, "no retry squeezed into the deadline's last 100 ms");
  });
});
