// Issue 15 (fair shares under overload): a saturated endpoint sheds the tenant above its share
// of the concurrency limit first, and the least critical requests first, against a real nats-server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headers } from "@nats-io/nats-core";
import { controllerContract } from "@switchyard/controller";
import { defineContract, isMeshError, type Mesh } from "@switchyard/runtime";
import type { PolicyInput } from "@switchyard/schemas";
import { z } from "zod";
import { controllerFor } from "./fixtures/controller.js";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";
import type { Cleanup } from "./fixtures/processes.js";

const work = defineContract({
  name: "work",
  version: "1.0.0",
  endpoints: {
    run: { input: z.object({ n: z.number().int() }), output: z.object({ tenant: z.string() }) },
  },
});

// one attempt and no breaker: every shed shows to the caller, none is hidden by a retry
const ONE_ATTEMPT = { retry: { maxAttempts: 1 }, breaker: { enabled: false } };

const codeOf = (r: unknown) => (isMeshError(r) ? r.code : "OK");

/** Applies `document` and waits until every mesh in `meshes` runs it. */
async function applyPolicy(admin: Mesh, meshes: readonly Mesh[], document: PolicyInput): Promise<void> {
  const { version } = await admin.client(controllerContract).apply({ document });
  for (const mesh of meshes) await eventually(() => assert.equal(mesh.policyVersion, version));
}

/** Sheds the endpoint counted, from its STATS. */
async function sheds(mesh: Mesh): Promise<number> {
  const stats = await mesh.connection.request("$SRV.STATS.work", "", { timeout: 2_000 });
  return stats.json<{ endpoints: Array<{ data?: { sheds?: number } }> }>().endpoints[0]?.data?.sheds ?? -1;
}

describe("fair shares under overload", () => {
  const nats = suiteNats({ jetstream: true });

  /** A `work` instance with a fixed limit whose handler runs until `open()`, counting what runs. */
  async function gatedWork(t: Cleanup, limit: number) {
    const server = await meshFor(t, nats.url, "work", { calls: { concurrency: { limit } } });
    let release = () => {};
    let gate = new Promise<void>((resolve) => (release = resolve));
    let running = 0;
    await server.serve(work, {
      run: async (_input, ctx) => {
        running++;
        await gate;
        running--;
        return { tenant: ctx.tenant ?? "" };
      },
    });
    const open = () => {
      release();
      gate = new Promise<void>((resolve) => (release = resolve));
    };
    return { server, open, running: () => running };
  }

  /** The controller, a `gatedWork` of `limit`, and a client showing every shed, all on `tenants`. */
  async function overloaded(t: Cleanup, limit: number, tenants: PolicyInput["tenants"]) {
    await controllerFor(t, nats.url);
    const w = await gatedWork(t, limit);
    const caller = await meshFor(t, nats.url, "caller", { calls: ONE_ATTEMPT });
    await applyPolicy(caller, [w.server, caller], { tenants });
    return { w, client: caller.client(work) };
  }

  it("an endpoint saturated by tenant A still serves tenant B within its share; the sheds are A's", async (t) => {
    await controllerFor(t, nats.url);
    const server = await meshFor(t, nats.url, "work", { calls: { concurrency: { limit: 8 } } });
    const ran = new Map<string, number>();
    await server.serve(work, {
      run: async (_input, ctx) => {
        ran.set(ctx.tenant ?? "", (ran.get(ctx.tenant ?? "") ?? 0) + 1);
        await delay(20); // the instance's work
        return { tenant: ctx.tenant ?? "" };
      },
    });
    const noisy = await meshFor(t, nats.url, "noisy", { calls: ONE_ATTEMPT });
    const quiet = await meshFor(t, nats.url, "quiet", { calls: ONE_ATTEMPT });
    await applyPolicy(noisy, [server, noisy, quiet], {
      tenants: {
        unknownTenants: "deny",
        plans: { standard: {} },
        tenants: { a: { plan: "standard" }, b: { plan: "standard" } },
      },
    });
    const a = noisy.client(work);
    const b = quiet.client(work);
    const aCodes = new Map<string, number>();
    const bCodes = new Map<string, number>();
    const count = (m: Map<string, number>, code: string) => m.set(code, (m.get(code) ?? 0) + 1);
    let flooding = true;
    // A: 32 loops against a limit of 8, each 40 calls at most, so A alone is far over the limit
    const flood = Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = 0; i < 40 && flooding; i++) {
          count(aCodes, codeOf(await a.run({ n: i }, { tenant: "a" }).catch((e: unknown) => e)));
        }
      }),
    );
    await waitFor("tenant A to be shed", () => (aCodes.get("OVERLOADED") ?? 0) > 0, 30_000);
    // B: two loops, within its share (half the limit), while A keeps the endpoint saturated
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        for (let i = 0; i < 50; i++) {
          count(bCodes, codeOf(await b.run({ n: i }, { tenant: "b" }).catch((e: unknown) => e)));
        }
      }),
    );
    const shedDuringB = aCodes.get("OVERLOADED") ?? 0;
    flooding = false;
    await flood;
    t.diagnostic(
      `A ${JSON.stringify(Object.fromEntries(aCodes))}, B ${JSON.stringify(Object.fromEntries(bCodes))}`,
    );
    assert.deepEqual(Object.fromEntries(bCodes), { OK: 100 }, "every call of B was served");
    assert.deepEqual([...aCodes.keys()].sort(), ["OK", "OVERLOADED"]);
    assert.ok(shedDuringB > 0);
    assert.equal(ran.get("b"), 100);
    // every shed the endpoint counted is one A saw
    assert.equal(await sheds(server), aCodes.get("OVERLOADED"));
  });

  it("a heavier plan gets the larger share", async (t) => {
    const { w, client } = await overloaded(t, 8, {
      unknownTenants: { plan: "standard" },
      plans: { standard: {}, gold: { settings: { concurrency: { weight: 3 } } } },
      tenants: { a: { plan: "standard" }, g: { plan: "gold" } },
    });
    const call = (tenant: string) => client.run({ n: 0 }, { tenant }).catch((e: unknown) => e);
    const pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < 8; i++) pending.push(call("a"));
    await waitFor("A to hold the whole limit", () => w.running() === 8, 30_000);
    assert.equal(codeOf(await call("a")), "OVERLOADED", "A is above its share");
    // gold's share is 6 of 8 (weights 1 and 3), but the hard cap is the limit + 25%: 2 more
    pending.push(call("g"), call("g"));
    await waitFor("gold to be admitted past the limit", () => w.running() === 10, 30_000);
    assert.equal(codeOf(await call("g")), "OVERLOADED", "the hard cap holds");
    w.open();
    assert.deepEqual((await Promise.all(pending)).map(codeOf), Array(10).fill("OK"));
  });

  it("the least critical go first; a caller raises criticality only as far as policy allows", async (t) => {
    const { w, client } = await overloaded(t, 10, {
      unknownTenants: { plan: "standard" },
      plans: {
        standard: {},
        batch: { settings: { concurrency: { criticality: "sheddable" } } },
        ops: { settings: { concurrency: { maxCriticality: "critical" } } },
      },
      tenants: { a: { plan: "standard" }, batch: { plan: "batch" }, ops: { plan: "ops" } },
    });
    const call = (tenant: string, criticality?: "sheddable" | "default" | "critical") =>
      client
        .run({ n: 0 }, { tenant, ...(criticality === undefined ? {} : { criticality }) })
        .catch((e: unknown) => e);
    const pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < 8; i++) pending.push(call("a"));
    await waitFor("8 of 10 slots held", () => w.running() === 8, 30_000);
    // above 80% of the limit: the batch plan's requests, and calls that lower themselves, are shed
    assert.equal(codeOf(await call("batch")), "OVERLOADED");
    assert.equal(codeOf(await call("a", "sheddable")), "OVERLOADED");
    // batch may not raise itself: its plan says nothing above its level
    assert.equal(codeOf(await call("batch", "critical")), "OVERLOADED");
    pending.push(call("a"), call("a"));
    await waitFor("the limit reached", () => w.running() === 10, 30_000);
    assert.equal(codeOf(await call("a")), "OVERLOADED", "default requests stop at the limit");
    assert.equal(codeOf(await call("a", "critical")), "OVERLOADED", "a's plan caps it at default");
    // the ops plan may ask for critical: it gets the reserve above the limit
    pending.push(call("ops", "critical"));
    await waitFor("a critical request in the reserve", () => w.running() === 11, 30_000);
    w.open();
    assert.deepEqual((await Promise.all(pending)).map(codeOf), Array(11).fill("OK"));
    assert.equal(await sheds(w.server), 5);
  });

  it("a malformed Mesh-Criticality is refused as INVALID_ARGUMENT", async (t) => {
    const w = await gatedWork(t, 10);
    w.open();
    const h = headers();
    h.set("Mesh-Criticality", "urgent");
    const reply = await w.server.connection.request("mesh.svc.work.run", JSON.stringify({ n: 1 }), {
      timeout: 5_000,
      headers: h,
    });
    assert.equal(reply.headers?.get("Mesh-Error"), "INVALID_ARGUMENT");
  });
});
