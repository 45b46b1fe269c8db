// Issue 18, latency-aware balancing: with `balance: p2c-ewma` a caller picks each attempt's instance
// by power of two choices over a decaying latency average weighted by requests in flight, learnt
// from `$SRV` INFO and its own calls; a retry goes to another instance than the one that failed.
// Real nats-server, one mesh per instance.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Mesh } from "@switchyard/runtime";
import { waitFor } from "./fixtures/eventually.js";
import { callerFor, instanceSpy, many, startPool, tally, workFor } from "./fixtures/instance-pool.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { suiteScope } from "./fixtures/processes.js";

describe("p2c-ewma balancing against real instances", () => {
  const scope = suiteScope();
  let nats: NatsNode;

  before(async () => {
    nats = await startNats(scope);
  });

  /** Calls until the caller has sent to every instance's own subject: it knows them all. */
  async function warm(caller: Mesh, call: () => Promise<unknown>, spy: Map<string, number>, n: number) {
    await waitFor(
      `${caller.name} to call all ${n} instances by their own subjects`,
      async () => {
        await call().catch(() => undefined);
        return spy.size >= n;
      },
      15_000,
    );
  }

  it("one of three instances made 200 ms slower gets under 10% of the calls", async () => {
    const pool = await startPool(scope, nats.url, "slowpool", {
      a: () => undefined,
      b: () => undefined,
      slow: async (_n, ctx) => void (await workFor(200, ctx)),
    });
    const caller = await callerFor(scope, nats.url, "slowcaller", { balance: "p2c-ewma" });
    const spy = instanceSpy(scope, caller, "slowpool");
    const client = caller.client(pool.contract);
    await warm(caller, () => client.who({}), spy, 3);
    pool.served.length = 0;

    const results = await many(600, 16, () => client.who({}));
    const errors = results.filter((r) => r instanceof Error);
    assert.deepEqual(errors, []);
    const by = tally(results as Array<{ instance: string }>, (r) => r.instance);
    const share = (by["slow"] ?? 0) / results.length;
    assert.ok(share < 0.1, `the slow instance took ${(share * 100).toFixed(1)}% (${JSON.stringify(by)})`);
    assert.ok((by["a"] ?? 0) > 0 && (by["b"] ?? 0) > 0, JSON.stringify(by));
  });

  it("the same pool through the queue group: the slow instance keeps its third (the contrast)", async () => {
    const pool = await startPool(scope, nats.url, "qgpool", {
      a: () => undefined,
      b: () => undefined,
      slow: async (_n, ctx) => void (await workFor(200, ctx)),
    });
    const caller = await callerFor(scope, nats.url, "qgcaller", { balance: "queue-group" });
    const client = caller.client(pool.contract);
    const results = await many(300, 16, () => client.who({}));
    const by = tally(results as Array<{ instance: string }>, (r) => r.instance);
    const share = (by["slow"] ?? 0) / results.length;
    assert.ok(share > 0.2, `the slow instance took ${(share * 100).toFixed(1)}% (${JSON.stringify(by)})`);
  });

  it("a retry after a per-attempt timeout goes to another instance", async () => {
    const pool = await startPool(scope, nats.url, "retrypool", {
      fast: () => undefined,
      // slower than the attempt timeout every time: each attempt it gets times out
      stuck: async (_n, ctx) => void (await workFor(2_000, ctx)),
      other: () => undefined,
    });
    const caller = await callerFor(scope, nats.url, "retrycaller", {
      balance: "p2c-ewma",
      attemptTimeoutMs: 100,
      retry: { maxAttempts: 3, budget: { ratio: 10, minPerSecond: 1_000, windowMs: 10_000 } },
    });
    const spy = instanceSpy(scope, caller, "retrypool");
    const client = caller.client(pool.contract);
    await warm(caller, () => client.who({}), spy, 3);

    // every attempt seen by its Idempotency-Key and number: which instance it went to
    const attempts = new Map<string, Map<number, string>>();
    const stuckId = pool.meshes.get("stuck")?.instanceId as string;
    const sub = caller.connection.subscribe("mesh.inst.retrypool.>", {
      callback: (_err, msg) => {
        const key = msg.headers?.get("Idempotency-Key") ?? "";
        const attempt = Number(msg.headers?.get("Mesh-Attempt"));
        const byAttempt = attempts.get(key) ?? new Map<number, string>();
        byAttempt.set(attempt, msg.subject.split(".")[3] ?? "");
        attempts.set(key, byAttempt);
      },
    });
    scope.after(() => sub.unsubscribe());
    // the stuck instance is re-probed as its average decays; run until it has failed a few attempts
    await waitFor(
      "three calls whose first attempt timed out on the stuck instance",
      async () => {
        const results = await many(20, 4, () => client.who({}));
        assert.deepEqual(
          results.filter((r) => r instanceof Error),
          [],
          "every call succeeds on a retry",
        );
        const retried = [...attempts.values()].filter((a) => a.get(1) === stuckId && a.has(2));
        return retried.length >= 3;
      },
      30_000,
    );
    for (const [key, byAttempt] of attempts) {
      for (const [n, id] of byAttempt) {
        const before = byAttempt.get(n - 1);
        assert.ok(before === undefined || before !== id, `${key}: attempt ${n} went back to ${id}`);
      }
    }
  });
});
