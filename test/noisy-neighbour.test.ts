// Issue 15 (failure isolation): a tenant flooding an edge → orders → payments chain at ten times
// its quota costs the other tenants nothing. Real nats-server and redis-server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { controllerContract } from "@switchyard/controller";
import { defineContract, isMeshError, type Mesh } from "@switchyard/runtime";
import type { CallStats } from "@switchyard/schemas";
import { z } from "zod";
import { controllerFor } from "./fixtures/controller.js";
import { eventually } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";
import { noisyChain } from "./fixtures/noisy-chain.js";
import { suiteRedis } from "./fixtures/redis-server.js";

const { orders, payments, policy } = noisyChain();
const edgeContract = defineContract({
  name: "edge",
  version: "1.0.0",
  endpoints: { ping: { input: z.object({}), output: z.object({}) } },
});

/** Quota of tenant A on payments.charge, per second. */
const A_RATE = 10;

/** The breaker states a serving mesh reports for the calls it makes. */
async function breakers(mesh: Mesh, service: string): Promise<CallStats[]> {
  const reply = await mesh.connection.request(`$SRV.STATS.${service}`, "", { timeout: 2_000 });
  return reply.json<{ mesh_calls?: CallStats[] }>().mesh_calls ?? [];
}

describe("noisy neighbour", () => {
  const nats = suiteNats({ jetstream: true });
  const redis = suiteRedis();

  it("A floods orders.create at ten times its quota: B stays ≥ 99.9% successful, no breaker opens, A gets 429s", async (t) => {
    await controllerFor(t, nats.url);
    const meshes: Mesh[] = [];
    for (let i = 0; i < 2; i++) {
      const pay = await meshFor(t, nats.url, "payments", {
        // generous: this test is about tenants, not a Redis slowed by a busy machine
        redis: { url: redis.url, commandTimeoutMs: 1_000 },
      });
      meshes.push(pay);
      await pay.serve(payments, {
        charge: async ({ amount }) => {
          await delay(2); // the charge's work
          return { chargeId: `c-${amount}` };
        },
      });
      const ord = await meshFor(t, nats.url, "orders");
      meshes.push(ord);
      await ord.serve(orders, {
        // downstream errors pass through as they are: the runtime keeps their code end to end
        create: (input, ctx) => ctx.call("payments", "charge", input) as Promise<{ chargeId: string }>,
      });
    }
    const edge = await meshFor(t, nats.url, "edge");
    await edge.serve(edgeContract, { ping: () => ({}) });
    meshes.push(edge);
    const { version } = await edge.client(controllerContract).apply({ document: policy(A_RATE) });
    for (const m of meshes) await eventually(() => assert.equal(m.policyVersion, version));
    const client = edge.client(orders);
    // each payments instance connects to Redis when the rule arrives; until then the rule's
    // failure mode (open) admits everything. 40 calls reach both instances (queue groups pick at
    // random) all but surely.
    const pay = edge.client(payments);
    await eventually(async () => {
      const probe = await Promise.all(
        Array.from({ length: 40 }, () =>
          pay.charge({ amount: 1 }, { tenant: "a", maxAttempts: 1 }).catch((e: unknown) => e),
        ),
      );
      assert.deepEqual(probe.filter((r) => isMeshError(r) && r.code !== "QUOTA_EXCEEDED").map(String), []);
      assert.ok(probe.filter(isMeshError).length > 20, "both instances decide with Redis");
    }, 15_000);
    const aCodes = new Map<string, number>();
    const bCodes = new Map<string, number>();
    const count = (m: Map<string, number>, code: string) => m.set(code, (m.get(code) ?? 0) + 1);
    let aRetryAfter = 0;
    const surprises: string[] = [];
    let flooding = true;
    // A: 16 loops of at most 100 calls each, as fast as they are answered, while B runs
    const flood = Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = 0; i < 100 && flooding; i++) {
          const r = await client.create({ amount: 1 }, { tenant: "a" }).catch((e: unknown) => e);
          const code = isMeshError(r) ? r.code : "OK";
          if (isMeshError(r) && r.code === "QUOTA_EXCEEDED" && (r.retryAfterMs ?? 0) > 0) aRetryAfter++;
          count(aCodes, code);
          if (code !== "OK" && code !== "QUOTA_EXCEEDED" && surprises.length < 3) surprises.push(String(r));
        }
      }),
    );
    // B: 1,000 calls from two loops at a modest pace
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        for (let i = 0; i < 500; i++) {
          const r = await client.create({ amount: 2 }, { tenant: "b" }).catch((e: unknown) => e);
          count(bCodes, isMeshError(r) ? r.code : "OK");
          await delay(5); // B's pace
        }
      }),
    );
    flooding = false;
    await flood;
    const aSent = [...aCodes.values()].reduce((sum, n) => sum + n, 0);
    t.diagnostic(
      `A ${JSON.stringify(Object.fromEntries(aCodes))} (quota ${A_RATE}/s), B ${JSON.stringify(Object.fromEntries(bCodes))}`,
    );
    const bOk = bCodes.get("OK") ?? 0;
    assert.ok(bOk / 1_000 >= 0.999, `B's success rate ${bOk / 1_000}`);
    // ten times its quota, counted: at most a tenth of what A sent fitted in it
    const aOk = aCodes.get("OK") ?? 0;
    assert.ok(aSent >= 10 * aOk, `A sent ${aSent}, ${aOk} admitted: not ten times its quota`);
    assert.ok((aCodes.get("QUOTA_EXCEEDED") ?? 0) > 0, "A got QUOTA_EXCEEDED");
    assert.equal(aRetryAfter, aCodes.get("QUOTA_EXCEEDED"), "every QUOTA_EXCEEDED says when to retry");
    assert.deepEqual(
      [...aCodes.keys()].filter((c) => c !== "OK" && c !== "QUOTA_EXCEEDED"),
      [],
      `A saw nothing but successes and 429s (no UNAVAILABLE, no CIRCUIT_OPEN): ${surprises.join("; ")}`,
    );
    // no breaker opened anywhere on the chain: the edge's on orders, the orders' on payments
    const states = [...(await breakers(edge, "edge")), ...(await breakers(edge, "orders"))];
    assert.ok(states.some((s) => s.service === "orders"));
    assert.ok(states.some((s) => s.service === "payments"));
    assert.deepEqual(
      states.filter((s) => s.breaker !== "closed"),
      [],
    );
  });
});
