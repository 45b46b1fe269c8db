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

describe("flow control", () => {
  const nats = suiteNats({ jetstream: true });
  const redis = suiteRedis();

  // how fast an open breaker fails is a speed: the bench's fail-fast suite measures it
  it("a failing callee opens the breaker: CIRCUIT_OPEN without a request; a probe closes it again", async (t) => {
    const server = await meshFor(t, nats.url, "work");
    let healthy = false;
    let runs = 0;
    await server.serve(work, {
      run: ({ n }) => {
        runs++;
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
    const runsWhenOpened = runs;
    for (let i = 0; i < 100; i++) {
      const e = await client.run({ n: i }).catch((x: unknown) => x);
      assert.ok(isMeshError(e) && e.code === "CIRCUIT_OPEN", String(e));
    }
    // no I/O happens at all: had a request left, it would reach the callee before this raw one
    await caller.connection.request("mesh.svc.work.run", JSON.stringify({ n: -1 }), { timeout: 2_000 });
    assert.equal(runs, runsWhenOpened + 1, "only the raw request reached the callee");
    healthy = true;
    // the breaker half-opens after openMs: the first call let through is a probe
    await eventually(async () => assert.deepEqual(await client.run({ n: 1 }), { instance: "one" }));
    for (let i = 0; i < 5; i++) assert.deepEqual(await client.run({ n: i }), { instance: "one" });
    // validation errors say nothing about the callee's health: a hundred of them keep it closed
    for (let i = 0; i < 100; i++) {
      const e = await client.run({ n: -1 }).catch((x: unknown) => x);
      assert.ok(isMeshError(e) && e.code === "INVALID_ARGUMENT", String(e));
    }
    assert.deepEqual(await client.run({ n: 1 }), { instance: "one" });
  });

  // that p99 stays close to the fast instances' is a speed: the bench's shedding suite measures it
  it("a slow instance sheds with OVERLOADED; callers retry onto the fast ones; none fail", async (t) => {
    const serveAs = async (name: string, latencyMs: number, limit: number) => {
      const mesh = await meshFor(t, nats.url, "work", { calls: { concurrency: { limit } } });
      await mesh.serve(work, {
        run: async () => {
          await delay(latencyMs); // the instance's work
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
      calls: { retry: { maxAttempts: 20, budget: { ratio: 1, minPerSecond: 100, windowMs: 10_000 } } },
    });
    const client = caller.client(work);
    const failures: string[] = [];
    const served = new Map<string, number>();
    // 32 callers, 60 calls each: far more in flight than the slow instance's one slot
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = 0; i < 60; i++) {
          try {
            const { instance } = await client.run({ n: 1 });
            served.set(instance, (served.get(instance) ?? 0) + 1);
          } catch (e) {
            failures.push(isMeshError(e) ? e.code : String(e));
          }
        }
      }),
    );
    t.diagnostic(`served ${JSON.stringify(Object.fromEntries(served))}`);
    assert.deepEqual(failures, []);
    assert.ok((served.get("slow") ?? 0) > 0, "the slow instance served what it could");
    assert.ok((served.get("slow") ?? 0) < (served.get("fast-1") ?? 0), "the fast ones served the most");
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
        // the handler's work: 5 ms up to the knee, then in proportion to the load (queueing)
        await delay(5 * Math.max(1, inFlight / knee));
        inFlight--;
        return { instance: "adaptive" };
      },
    });
    const caller = await meshFor(t, nats.url, "caller", {
      calls: { retry: { maxAttempts: 1 }, breaker: { enabled: false } },
    });
    const client = caller.client(work);
    let ok = 0;
    let shed = 0;
    // the limit adapts over time: 4 s of load from 48 callers
    const until = performance.now() + 4_000;
    await Promise.all(
      Array.from({ length: 48 }, async () => {
        while (performance.now() < until) {
          const r = await client.run({ n: 1 }).catch((e: unknown) => e);
          if (isMeshError(r)) {
            shed++;
            await delay(2); // a shed caller backs off a little, as a real one would
          } else ok++;
        }
      }),
    );
    const stats = await server.connection.request("$SRV.STATS.work", "", { timeout: 1_000 });
    const limit = (stats.json<{ endpoints: Array<{ data?: { concurrency?: { limit: number } } }> }>()
      .endpoints[0]?.data?.concurrency?.limit ?? 0) as number;
    t.diagnostic(`limit ${limit}, ok ${ok}, shed ${shed}`);
    assert.ok(limit >= knee / 2 && limit <= knee * 3, `limit ${limit} near the knee ${knee}`);
    assert.ok(shed > 0, "overload was shed");
    assert.ok(ok > 0, "what was admitted was served");
  });

  it("dedupe: a charge retried after a timeout runs once and the caller gets one result", async (t) => {
    const server = await meshFor(t, nats.url, "payments", { redis: { url: redis.url } });
    let runs = 0;
    await server.serve(payments, {
      charge: async () => {
        runs++;
        await delay(250); // the handler's work: slower than the caller's attempt timeout
        return { chargeId: `ch-${runs}` };
      },
    });
    const caller = await meshFor(t, nats.url, "caller");
    const result = await caller
      .client(payments)
      .charge({ amount: 100 }, { timeoutMs: 3_000, attemptTimeoutMs: 100, maxAttempts: 10 });
    assert.deepEqual(result, { chargeId: "ch-1" });
    assert.equal(runs, 1);
    // the same key later gets the stored reply, a new call runs again; every retry of the first
    // charge left this connection before it, so a duplicate run would have come first (runs 3)
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
