// Issue 18: routes in policy pick the version a call goes to — weighted splits, tenant and route
// header matches that hold through every hop, sticky choices — and a `policy apply` changes them
// live. Real nats-server, controller and meshes; versions are told apart by what instances answer.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import type { Controller } from "@switchyard/controller";
import { defineContract, isMeshError, type Mesh } from "@switchyard/runtime";
import type { PolicyInput } from "@switchyard/schemas";
import { z } from "zod";
import { controllerFor } from "./fixtures/controller.js";
import { waitFor } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { scratchDir, suiteScope } from "./fixtures/processes.js";
import { runCli } from "./fixtures/rendered-broker.js";

const Versions = z.object({ front: z.string(), back: z.array(z.string()) });
const Where = z.object({ version: z.string() });
const backOf = (version: string) =>
  defineContract({
    name: "back",
    version,
    endpoints: { where: { input: z.object({}), output: Where, idempotent: true } },
  });
const frontOf = (version: string) =>
  defineContract({
    name: "front",
    version,
    endpoints: {
      /** Calls back `times` times and says which versions answered, its own first. */
      chain: {
        input: z.object({ times: z.number().int().min(0).max(3) }),
        output: Versions,
        idempotent: true,
      },
    },
  });
const front = frontOf("1.0.0");

/** Runs `calls` calls, `parallel` at a time. */
async function many<T>(calls: number, parallel: number, call: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < calls) out.push(await call(next++));
    }),
  );
  return out;
}

const count = <T>(items: readonly T[], key: (t: T) => string) => {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
};

describe("routes: which version a call goes to", () => {
  const scope = suiteScope();
  let nats: NatsNode;
  let controller: Controller;
  let admin: Mesh;
  let caller: Mesh;
  const instances: Mesh[] = [];

  /** Applies a policy through the controller and waits until every mesh of the test runs it. */
  async function apply(document: PolicyInput): Promise<void> {
    const reply = (await admin.call("controller", "apply", { document })) as { version: number };
    for (const mesh of [caller, ...instances]) {
      await waitFor(`${mesh.name} to run policy ${reply.version}`, () => mesh.policyVersion >= reply.version);
    }
  }

  before(async () => {
    nats = await startNats(scope, { jetstream: true });
    controller = await controllerFor(scope, nats.url);
    admin = await meshFor(scope, nats.url, "admin", { policy: { follow: false } });
    caller = await meshFor(scope, nats.url, "caller");
    for (const version of ["1.0.0", "2.0.0"]) {
      const backMesh = await meshFor(scope, nats.url, "back");
      await backMesh.serve(backOf(version), { where: () => ({ version }) });
      const frontMesh = await meshFor(scope, nats.url, "front");
      await frontMesh.serve(frontOf(version), {
        chain: async ({ times }, ctx) => {
          const back: string[] = [];
          for (let i = 0; i < times; i++) back.push((await ctx.client(backOf(version)).where({})).version);
          return { front: version, back };
        },
      });
      instances.push(backMesh, frontMesh);
    }
    void controller;
  });

  it("a 90/10 split over 2,000 calls lands within ±3 points; a live apply moves it", async () => {
    await apply({ routes: [{ service: "front", to: { "1.x": 90, "2.x": 10 } }] });
    const calls = (n: number) => many(n, 32, () => caller.client(front).chain({ times: 0 }));
    const split = count(await calls(2_000), (r) => r.front);
    const canaryShare = ((split["2.0.0"] ?? 0) / 2_000) * 100;
    assert.ok(Math.abs(canaryShare - 10) <= 3, `2.x got ${canaryShare}% (${JSON.stringify(split)})`);

    // the weight change of a rollout's next step: one `switchyard policy apply`, no restart
    const file = join(scratchDir(scope, "policy"), "policy.yaml");
    writeFileSync(file, 'routes:\n  - { service: front, to: { "1.x": 0, "2.x": 100 } }\n');
    const applied = await runCli({ NATS_URL: nats.url }, "policy", "apply", "-f", file, "--wait", "--json");
    assert.equal(applied.code, 0, applied.stderr);
    const { version } = JSON.parse(applied.stdout) as { version: number };
    await waitFor("the caller to run the new weights", () => caller.policyVersion >= version);
    assert.deepEqual(
      count(await calls(200), (r) => r.front),
      { "2.0.0": 200 },
    );
    // routes removed: the plain queue group, both versions again
    await apply({});
    const both = count(await calls(200), (r) => r.front);
    assert.ok((both["1.0.0"] ?? 0) > 0 && (both["2.0.0"] ?? 0) > 0, JSON.stringify(both));
  });

  it("a tenant match sends every acme call to the canary through two hops, others stay on 1.x", async () => {
    await apply({
      routes: [
        { service: "front", match: { tenant: "acme" }, to: "2.x" },
        { service: "front", to: "1.x" },
        { service: "back", match: { tenant: "acme" }, to: "2.x" },
        { service: "back", to: "1.x" },
      ],
    });
    const run = (tenant: string) =>
      many(200, 16, () => caller.client(front).chain({ times: 1 }, { tenant })).then((rs) =>
        count(rs, (r) => `${r.front}>${r.back.join(",")}`),
      );
    assert.deepEqual(await run("acme"), { "2.0.0>2.0.0": 200 });
    assert.deepEqual(await run("globex"), { "1.0.0>1.0.0": 200 });
  });

  it("a route header the first caller sets holds at the next hop (Mesh-Route)", async () => {
    await apply({
      routes: [{ service: "back", match: { header: { name: "canary", value: "on" } }, to: "2.x" }],
    });
    // front is not routed (either version); back sees the header its caller passed on
    const results = await many(100, 16, () =>
      caller.client(front).chain({ times: 2 }, { routeHeaders: { canary: "on" } }),
    );
    assert.deepEqual(
      count(results, (r) => r.back.join(",")),
      { "2.0.0,2.0.0": 100 },
    );
    const fronts = count(results, (r) => r.front);
    assert.ok((fronts["1.0.0"] ?? 0) > 0 && (fronts["2.0.0"] ?? 0) > 0, JSON.stringify(fronts));
  });

  it("sticky: every call of one request chain to a service goes to the version first chosen", async () => {
    await apply({ routes: [{ service: "back", to: { "1.x": 50, "2.x": 50 }, sticky: true }] });
    const results = await many(200, 16, () => caller.client(front).chain({ times: 3 }));
    // within a chain one version; across chains both
    const chains = count(results, (r) => r.back.join(","));
    assert.deepEqual(
      Object.keys(chains).sort(),
      ["1.0.0,1.0.0,1.0.0", "2.0.0,2.0.0,2.0.0"],
      JSON.stringify(chains),
    );
    // without sticky the three calls of one chain roll separately
    await apply({ routes: [{ service: "back", to: { "1.x": 50, "2.x": 50 } }] });
    const loose = count(await many(200, 16, () => caller.client(front).chain({ times: 3 })), (r) =>
      new Set(r.back).size === 1 ? "same" : "mixed",
    );
    assert.ok((loose["mixed"] ?? 0) > 0, JSON.stringify(loose));
  });

  it("switchyard top shows the calls per version; an invalid route is refused, naming where", async () => {
    await apply({ routes: [{ service: "front", to: { "1.x": 0, "2.x": 100 } }] });
    let running = true;
    const load = many(8, 8, async () => {
      while (running) await caller.client(front).chain({ times: 0 });
    });
    let top: Awaited<ReturnType<typeof runCli>>;
    try {
      top = await runCli({ NATS_URL: nats.url }, "top", "front", "--json", "--interval", "500");
    } finally {
      running = false;
      await load;
    }
    assert.equal(top.code, 0, top.stderr);
    const { versions } = JSON.parse(top.stdout) as {
      versions: Array<{ service: string; version: string; instances: number; share: number | null }>;
    };
    const shares = Object.fromEntries(
      versions.map((v) => [`${v.service}@${v.version}`, [v.instances, v.share]]),
    );
    assert.deepEqual(shares, { "front@1.0.0": [1, 0], "front@2.0.0": [1, 1] }, top.stdout);

    const refused = await admin
      .call("controller", "apply", {
        document: { routes: [{ service: "front", to: { "1.x": 95, "2.x": 10 } }] },
      })
      .catch((e: unknown) => e);
    assert.ok(isMeshError(refused) && refused.code === "INVALID_ARGUMENT", String(refused));
    assert.match(refused.message, /routes\.0\.to.*weights sum to 105; they must sum to 100/s);
  });
});
