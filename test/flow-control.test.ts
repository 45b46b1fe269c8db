// Issue 5: circuit breakers, concurrency limits and shedding, idempotent replay, cancellation and
// fault injection, against a real nats-server (and redis-server for replay).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { controllerContract } from "@switchyard/controller";
import { defineContract, isMeshError, type Mesh, MeshError } from "@switchyard/runtime";
import { z } from "zod";
import { controllerFor } from "./fixtures/controller.js";
import { eventually } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";
import { suiteRedis } from "./fixtures/redis-server.js";

const work = defineContract({
  name: "work",
  version: "1.0.0",
  endpoints: {
    run: {
      input: z.object({ n: z.number().int() }),
      output: z.object({ instance: z.string() }),
      idempotent: true,
    },
  },
});

const payments = defineContract({
  name: "payments",
  version: "1.0.0",
  endpoints: {
    charge: {
      input: z.object({ amount: z.number().int().positive() }),
      output: z.object({ chargeId: z.string() }),
      dedupe: true,
    },
  },
});

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
}

describe("flow control", () => {
  const nats = suiteNats({ jetstream: true });
  const redis = suiteRedis();

  it("a failing callee opens the breaker: CIRCUIT_OPEN in well under 1 ms; a probe closes it again", async (t) => {
    const server = await meshFor(t, nats.url, "work");
    let healthy = false;
    await server.serve(work, {
      run: ({ n }) => {
        if (n < 0) throw new MeshError("INVALID_ARGUMENT", "negative");
        if (!healthy) throw new Error("broken");
        return { instance: "one" };
      },
    });
    const caller = await meshFor(t, nats.url, "caller", {
      calls: {
        retry: { maxAttempts: 1 },
        breaker: { failureRatio: 0.5, minimumCalls: 10, windowMs: 10_000, openMs: 300, halfOpenProbes: 2 },
      },
    });
    const client = caller.client(work);
    const codes: string[] = [];
    for (let i = 0; i < 10; i++)
      codes.push(
        await client.run({ n: i }).then(
          () => "OK",
          (e: MeshError) => e.code,
        ),
      );
    assert.deepEqual([...new Set(codes)], ["INTERNAL"]);
    const timings: number[] = [];
    for (let i = 0; i < 100; i++) {
      const started = performance.now();
      const e = await client.run({ n: i }).catch((x: unknown) => x);
      timings.push(performance.now() - started);
      assert.ok(isMeshError(e) && e.code === "CIRCUIT_OPEN", String(e));
    }
    // the median, so one GC pause on a busy machine does not decide; no I/O happens at all
    const median = [...timings].sort((a, b) => a - b)[timings.length >> 1] ?? 0;
    assert.ok(median < 1, `median fast failure ${median} ms (p99 ${p99(timings)} ms)`);
    healthy = true;
    await delay(350);
    await eventually(async () => assert.deepEqual(await client.run({ n: 1 }), { instance: "one" }));
    for (let i = 0; i < 5; i++) assert.deepEqual(await client.run({ n: i }), { instance: "one" });
    // validation errors say nothing about the callee's health: a hundred of them keep it closed
    for (let i = 0; i < 100; i++) {
      const e = await client.run({ n: -1 }).catch((x: unknown) => x);
      assert.ok(isMeshError(e) && e.code === "INVALID_ARGUMENT", String(e));
    }
    assert.deepEqual(await client.run({ n: 1 }), { instance: "one" });
  });

  it("a slow instance sheds with OVERLOADED; callers retry onto the fast ones; none fail; p99 stays close", async (t) => {
    const serveAs = async (name: string, latencyMs: number, limit: number) => {
      const mesh = await meshFor(t, nats.url, "work", { calls: { concurrency: { limit } } });
      await mesh.serve(work, {
        run: async () => {
          await delay(latencyMs);
          return { instance: name };
        },
      });
    };
    await serveAs("fast-1", 5, 100);
    await serveAs("fast-2", 5, 100);
    await serveAs("slow", 50, 1);
    const caller = await meshFor(t, nats.url, "caller", {
      // sheds retry at once on a random instance: 20 attempts make (1/3)^20 the chance that a call
      // meets the slow one every time, negligible over thousands of calls
      calls: { retry: { maxAttempts: 20 }, retryBudget: { ratio: 1, minPerSecond: 100, windowMs: 10_000 } },
    });
    const client = caller.client(work);
    const fast: number[] = [];
    const all: number[] = [];
    const failures: string[] = [];
    const served = new Map<string, number>();
    const until = performance.now() + 3_000;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (performance.now() < until) {
          const started = performance.now();
          try {
            const { instance } = await client.run({ n: 1 });
            const ms = performance.now() - started;
            all.push(ms);
            if (instance !== "slow") fast.push(ms);
            served.set(instance, (served.get(instance) ?? 0) + 1);
          } catch (e) {
            failures.push(isMeshError(e) ? e.code : String(e));
          }
        }
      }),
    );
    assert.deepEqual(failures, []);
    assert.ok((served.get("slow") ?? 0) > 0, "the slow instance served what it could");
    const slowShare = (served.get("slow") ?? 0) / all.length;
    t.diagnostic(
      `calls ${all.length}, served ${JSON.stringify(Object.fromEntries(served))}, slow share ${(slowShare * 100).toFixed(2)}%, p99 all ${p99(all).toFixed(1)} ms, p99 fast ${p99(fast).toFixed(1)} ms`,
    );
    assert.ok(p99(all) <= 3 * p99(fast), `p99 ${p99(all)} vs fast ${p99(fast)}`);
  });

  it("the adaptive limit settles near the knee of a callee whose latency rises with load", async (t) => {
    const knee = 8;
    let inFlight = 0;
    const server = await meshFor(t, nats.url, "work", {
      calls: { concurrency: { mode: "adaptive", limit: 2, minLimit: 1, maxLimit: 200 } },
    });
    await server.serve(work, {
      run: async () => {
        inFlight++;
        // 5 ms up to the knee, then in proportion to the load: queueing
        await delay(5 * Math.max(1, inFlight / knee));
        inFlight--;
        return { instance: "adaptive" };
      },
    });
    const caller = await meshFor(t, nats.url, "caller", {
      calls: { retry: { maxAttempts: 1 }, breaker: { enabled: false } },
    });
    const client = caller.client(work);
    const ok: number[] = [];
    let shed = 0;
    const until = performance.now() + 4_000;
    await Promise.all(
      Array.from({ length: 48 }, async () => {
        while (performance.now() < until) {
          const started = performance.now();
          const r = await client.run({ n: 1 }).catch((e: unknown) => e);
          if (isMeshError(r)) {
            shed++;
            await delay(2);
          } else ok.push(performance.now() - started);
        }
      }),
    );
    const stats = await server.connection.request("$SRV.STATS.work", "", { timeout: 1_000 });
    const limit = (stats.json<{ endpoints: Array<{ data?: { concurrency?: { limit: number } } }> }>()
      .endpoints[0]?.data?.concurrency?.limit ?? 0) as number;
    t.diagnostic(`limit ${limit}, ok ${ok.length}, shed ${shed}, p99 ${p99(ok).toFixed(1)} ms`);
    assert.ok(limit >= knee / 2 && limit <= knee * 3, `limit ${limit} near the knee ${knee}`);
    assert.ok(shed > 0, "overload was shed");
    assert.ok(p99(ok) < 60, `p99 ${p99(ok)} ms stays bounded under 48 in flight`);
  });

  it("dedupe: a charge retried after a timeout runs once and the caller gets one result", async (t) => {
    const server = await meshFor(t, nats.url, "payments", { redis: { url: redis.url } });
    let runs = 0;
    await server.serve(payments, {
      charge: async () => {
        runs++;
        await delay(250); // slower than the caller's attempt timeout
        return { chargeId: `ch-${runs}` };
      },
    });
    const caller = await meshFor(t, nats.url, "caller");
    const result = await caller
      .client(payments)
      .charge({ amount: 100 }, { timeoutMs: 3_000, attemptTimeoutMs: 100, maxAttempts: 10 });
    assert.deepEqual(result, { chargeId: "ch-1" });
    await delay(300);
    assert.equal(runs, 1);
    // the same key later gets the stored reply, a new call runs again
    const key = "order-77-charge";
    const first = await caller.client(payments).charge({ amount: 5 }, { idempotencyKey: key });
    const again = await caller.client(payments).charge({ amount: 5 }, { idempotencyKey: key });
    assert.deepEqual(again, first);
    assert.equal(runs, 2);
  });

  it("20% injected aborts with retries on: ≥ 99% success, retries within the budget", async (t) => {
    await controllerFor(t, nats.url);
    let received = 0;
    const instances: Mesh[] = [];
    for (let i = 0; i < 2; i++) {
      const mesh = await meshFor(t, nats.url, "work");
      await mesh.serve(work, {
        run: () => {
          received++;
          return { instance: `i${i}` };
        },
      });
      instances.push(mesh);
    }
    const caller = await meshFor(t, nats.url, "caller");
    const { version } = await caller.client(controllerContract).apply({
      document: {
        defaults: { retry: { maxAttempts: 4, budget: { ratio: 0.4, minPerSecond: 10, windowMs: 10_000 } } },
        faults: [{ service: "work", endpoint: "run", abort: { code: "UNAVAILABLE", fraction: 0.2 } }],
      },
    });
    for (const mesh of [...instances, caller])
      await eventually(() => assert.equal(mesh.policyVersion, version));
    const calls = 1_000;
    let ok = 0;
    for (let i = 0; i < calls; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () =>
          caller
            .client(work)
            .run({ n: i })
            .then(
              () => true,
              () => false,
            ),
        ),
      );
      ok += batch.filter(Boolean).length;
    }
    const attempts = received / 0.8; // injected aborts happen before the handler counts
    t.diagnostic(`success ${ok}/${calls}, handler runs ${received}, attempts ≈ ${attempts.toFixed(0)}`);
    assert.ok(ok / calls >= 0.99, `success ${ok}/${calls}`);
    assert.ok(attempts <= calls * 1.4 + 100, "retries stay within the budget");
  });
});
