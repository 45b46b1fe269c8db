// Issue 4: per-tenant quotas in Redis — exact GCRA, global across instances, leases within their
// bound, explicit behaviour when Redis is down — on one Redis server and on a Redis Cluster.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { before, describe, it } from "node:test";
import { controllerContract } from "@switchyard/controller";
import { isMeshError, type Mesh, type MeshOptions } from "@switchyard/runtime";
import type { PolicyInput } from "@switchyard/schemas";
import { echoContract } from "./fixtures/contracts.js";
import { controllerFor } from "./fixtures/controller.js";
import { eventually } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { type Cleanup, suiteScope } from "./fixtures/processes.js";
import { startRedis, startRedisCluster } from "./fixtures/redis-server.js";

interface Store {
  redis: MeshOptions["redis"];
  /** What `switchyard quota status --redis` takes. */
  cliUrl: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

type Rule = NonNullable<PolicyInput["quotas"]>[number];
const rule = (over: Partial<Rule> & Pick<Rule, "name">): Rule => ({
  match: { service: "echo", endpoint: "say" },
  rate: 50,
  periodMs: 1_000,
  burst: 10,
  onStoreFailure: "open",
  ...over,
});

/** Calls `say` as fast as `workers` loops allow for `ms`; counts outcomes by code. */
async function saturate(mesh: Mesh, tenant: string, ms: number, workers = 8) {
  const echo = mesh.client(echoContract);
  const counts = new Map<string, number>();
  let slowest = 0;
  let firstAdmitted: number | undefined;
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        const r = await echo
          .say({ text: "q" }, { tenant, maxAttempts: 1, timeoutMs: 1_000 })
          .catch((e: unknown) => e);
        slowest = Math.max(slowest, performance.now() - started);
        const code = isMeshError(r) ? r.code : "OK";
        if (code === "OK" && (firstAdmitted === undefined || started < firstAdmitted))
          firstAdmitted = started;
        counts.set(code, (counts.get(code) ?? 0) + 1);
        if (code !== "OK") await delay(2); // a denied caller backs off a little, as a real one would
      }
    }),
  );
  // the exact allowance runs from the first admission (connections warm up first) to the end
  const windowMs = until - (firstAdmitted ?? until);
  return { ok: counts.get("OK") ?? 0, counts, slowest, windowMs };
}

function execFileText(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: { ...process.env, NATS_URL: currentNats }, timeout: 60_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

const currentNats = "";

function quotaSuite(kind: string, startStore: (t: Cleanup) => Promise<Store>) {
  describe(`quotas on ${kind}`, () => {
    const scope = suiteScope();
    let nats: NatsNode;
    let store: Store;
    let instances: Mesh[];
    let caller: Mesh;
    let version = 0;

    /**
     * Applies the rules and waits until every instance runs them. With `warm`, also until Redis
     * decides (a fresh store connects when the policy arrives; until then the rules' failure
     * modes answer, which would blur an exact count).
     */
    async function apply(quotas: Rule[], warm = false): Promise<void> {
      const admin = caller.client(controllerContract);
      version = (await admin.apply({ document: { quotas } })).version;
      for (const mesh of [...instances, caller]) {
        await eventually(() => assert.equal(mesh.policyVersion, version));
      }
      if (!warm) return;
      await eventually(
        async () => {
          const probe = await saturate(caller, `warm-${Date.now()}`, 400, 6);
          assert.ok((probe.counts.get("QUOTA_EXCEEDED") ?? 0) > 0, "redis is not deciding yet");
          // every instance's store is connected: none answers from its failure mode any more
          assert.equal(probe.counts.get("UNAVAILABLE") ?? 0, 0, "an instance's store is not ready yet");
        },
        15_000,
        0,
      );
    }

    before(async () => {
      nats = await startNats(scope, { jetstream: true });
      store = await startStore(scope);
      await controllerFor(scope, nats.url);
      instances = [];
      for (let i = 0; i < 3; i++) {
        // generous command timeouts: this suite is about exact counts, not a slow Redis
        const mesh = await meshFor(scope, nats.url, "echo", {
          redis: { ...store.redis, commandTimeoutMs: 1_000 },
        });
        await mesh.serve(echoContract, { say: ({ text }) => ({ text }), sayAgain: ({ text }) => ({ text }) });
        instances.push(mesh);
      }
      caller = await meshFor(scope, nats.url, "caller");
    });

    it("50/s with burst 10 admits the exact GCRA allowance over 3 s; another tenant is unaffected", async () => {
      // closed: a store hiccup shows as UNAVAILABLE, never as an admission that blurs the count
      await apply([rule({ name: `exact-${version}`, onStoreFailure: "closed" })], true);
      // the calm tenant calls at 20/s, well inside its own bucket, while the hot one saturates its own
      const calm = async () => {
        const codes: string[] = [];
        for (let i = 0; i < 60; i++) {
          const r = await caller
            .client(echoContract)
            .say({ text: "c" }, { tenant: "calm-tenant", maxAttempts: 1 });
          codes.push(isMeshError(r) ? r.code : "OK");
          await delay(50); // the calm tenant's pace: 20 calls a second
        }
        return codes;
      };
      const [hot, calmCodes] = await Promise.all([saturate(caller, "hot-tenant", 3_000), calm()]);
      assert.deepEqual([...new Set(calmCodes)], ["OK"], "the second tenant is unaffected");
      // burst + rate × the window, across three instances sharing one global bucket
      const allowance = 10 + Math.floor((50 * hot.windowMs) / 1_000);
      assert.ok(
        Math.abs(hot.ok - allowance) <= 2,
        `admitted ${hot.ok}, allowance ${allowance}: ${[...hot.counts]}`,
      );
      assert.ok((hot.counts.get("QUOTA_EXCEEDED") ?? 0) > 0);
      const other = await saturate(caller, "another-tenant", 200, 1);
      assert.ok(other.ok >= 10, "a second tenant has its own bucket");
    });

    it("lease mode stays within the documented bound: allowance + leaseTokens × instances", async () => {
      const leaseTokens = 5;
      await apply([rule({ name: `lease-${version}`, leaseTokens, onStoreFailure: "closed" })], true);
      const run = await saturate(caller, "leasing-tenant", 3_000);
      const allowance = 10 + 50 * 3;
      assert.ok(run.ok <= allowance + leaseTokens * instances.length, `admitted ${run.ok}`);
      assert.ok(run.ok >= allowance - leaseTokens * instances.length - 2, `admitted ${run.ok}`);
    });

    it("switchyard quota status shows each rule's remaining allowance and the decisions made", async () => {
      await apply([rule({ name: `visible-${version}`, rate: 100, burst: 20 })], true);
      const run = await saturate(caller, "visible-tenant", 100, 1);
      const out = await execFileText(process.execPath, [
        new URL("../cli/bin/switchyard.mjs", import.meta.url).pathname,
        "quota",
        "status",
        "visible-tenant",
        "--redis",
        store.cliUrl,
        "-s",
        nats.url,
        "--json",
      ]);
      const [row] = (JSON.parse(out) as { rules: Array<Record<string, number | string>> }).rules;
      assert.equal(row?.["rule"], `visible-${version - 1}`);
      assert.equal(row?.["admitted"], run.ok);
      assert.equal(row?.["denied"], run.counts.get("QUOTA_EXCEEDED") ?? 0);
      assert.ok(typeof row?.["remaining"] === "number" && row["remaining"] >= 0 && row["remaining"] <= 20);
    });

    it("shadow rules count but always admit", async () => {
      await apply([rule({ name: `shadow-${version}`, rate: 5, burst: 1, shadow: true })]);
      const run = await saturate(caller, "shadow-tenant", 500, 2);
      assert.equal(run.counts.get("QUOTA_EXCEEDED") ?? 0, 0);
      assert.ok(run.ok > 10);
    });

    it("Redis killed: open admits, closed is UNAVAILABLE, local admits about rate ÷ instances; recovery is automatic", async () => {
      await apply([
        rule({ name: `open-${version}`, match: { tenant: "t-open", service: "echo", endpoint: "say" } }),
        rule({
          name: `closed-${version}`,
          match: { tenant: "t-closed", service: "echo", endpoint: "say" },
          onStoreFailure: "closed",
        }),
        rule({
          name: `local-${version}`,
          match: { tenant: "t-local", service: "echo", endpoint: "say" },
          rate: 30,
          burst: 3,
          onStoreFailure: "local",
        }),
      ]);
      await saturate(caller, "t-local", 200, 1); // let the instances count each other
      // counting is a 250 ms discovery gather inside each instance, with nothing to observe from
      // here: give it that long to finish before Redis goes
      await delay(300);
      await store.kill();
      try {
        const [open, closed, local] = await Promise.all([
          saturate(caller, "t-open", 2_000, 2),
          saturate(caller, "t-closed", 2_000, 2),
          saturate(caller, "t-local", 2_000, 4),
        ]);
        assert.ok(open.ok > 100, `open admitted ${open.ok}`);
        assert.equal(closed.ok, 0);
        assert.ok((closed.counts.get("UNAVAILABLE") ?? 0) > 0);
        // each of 3 instances admits its share (10/s, burst 1): about the rule's rate in total
        assert.ok(local.ok >= 30 && local.ok <= 30 * 2 + 10, `local admitted ${local.ok}`);
        for (const run of [open, closed, local])
          assert.ok(run.slowest < 1_000, `a call waited ${run.slowest} ms`);
      } finally {
        await store.restart();
      }
      await eventually(
        async () => {
          const run = await saturate(caller, `t-open-after-${Date.now()}`, 300, 1);
          assert.ok(run.ok > 0);
        },
        10_000,
        100,
      );
      await apply([rule({ name: `resumed-${version}`, rate: 20, burst: 5 })]);
      await eventually(
        async () => {
          const run = await saturate(caller, `resumed-${Date.now()}`, 1_000);
          assert.ok(Math.abs(run.ok - (5 + 20)) <= 2, `exact again: ${run.ok}`);
        },
        15_000,
        200,
      );
    });

    it("an unknown tenant is UNAUTHENTICATED when the policy denies unknown tenants", async () => {
      const admin = caller.client(controllerContract);
      version = (
        await admin.apply({
          document: {
            tenants: { unknownTenants: "deny", plans: { basic: {} }, tenants: { known: { plan: "basic" } } },
            quotas: [
              rule({ name: `plan-${version}`, match: { plan: "basic", service: "echo", endpoint: "say" } }),
            ],
          },
        })
      ).version;
      for (const mesh of instances) await eventually(() => assert.equal(mesh.policyVersion, version));
      const echo = caller.client(echoContract);
      assert.deepEqual(await echo.say({ text: "hi" }, { tenant: "known" }), { text: "hi" });
      const error = await echo.say({ text: "hi" }, { tenant: "stranger" }).catch((e: unknown) => e);
      assert.ok(isMeshError(error) && error.code === "UNAUTHENTICATED");
    });
  });
}

quotaSuite("one redis-server", async (t) => {
  const redis = await startRedis(t);
  return {
    redis: { url: redis.url },
    cliUrl: redis.url,
    kill: () => redis.process.kill(),
    restart: () => redis.restart(),
  };
});

quotaSuite("a 3-master Redis Cluster", async (t) => {
  const cluster = await startRedisCluster(t, 3);
  return {
    redis: { clusterNodes: [...cluster.urls] },
    cliUrl: cluster.urls.join(","),
    kill: () => cluster.killAll(),
    restart: () => cluster.restartAll(),
  };
});
