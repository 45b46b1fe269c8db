// Issue 14 (identity the broker vouches for): tenants originate only at the issuers the policy
// names. The issuer signs a tenant token, runtimes pass it on, callees verify it, and everything
// per tenant (ctx.tenant, quotas, replay) counts the verified tenant. Replay is bound to who asked
// and what: another body is CONFLICT, another caller or tenant never gets the first's result, and
// a slow handler keeps its claim.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { createUser, type KeyPair } from "@nats-io/nkeys";
import { controllerContract } from "@switchyard/controller";
import { defineContract, type Mesh } from "@switchyard/runtime";
import type { PolicyInput } from "@switchyard/schemas";
import { z } from "zod";
import { controllerFor } from "./fixtures/controller.js";
import { eventually } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { failsWith } from "./fixtures/mesh-error.js";
import { startNats } from "./fixtures/nats-server.js";
import { suiteScope } from "./fixtures/processes.js";
import { startRedis } from "./fixtures/redis-server.js";

const Seen = z.object({ tenant: z.string().nullable(), verified: z.boolean() });
/** An endpoint that takes nothing and answers the tenant its handler saw. */
const reportsTenant = { input: z.strictObject({}), output: Seen };

const tenantedContract = defineContract({
  name: "tenanted",
  version: "1.0.0",
  endpoints: {
    whoami: reportsTenant,
    limited: reportsTenant,
    /** Calls `downstream.whoami` for the request's tenant (a hop A → B). */
    relay: { input: z.strictObject({ asTenant: z.string().optional() }), output: Seen },
    charge: {
      input: z.strictObject({ amount: z.number().int(), workMs: z.number().int().min(0).optional() }),
      output: z.object({ run: z.number().int(), amount: z.number().int(), tenant: z.string().nullable() }),
      dedupe: true,
    },
  },
});

const downstreamContract = defineContract({
  name: "downstream",
  version: "1.0.0",
  endpoints: { whoami: reportsTenant },
});

/** A tenant token as PROTOCOL.md defines it, signed by `key` over the given window. */
function token(key: KeyPair, tenant: string, iatMs: number, expMs: number): string {
  const claims = { tenant, iss: key.getPublicKey(), iatMs, expMs };
  const signed = `v1.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${signed}.${Buffer.from(key.sign(Buffer.from(signed))).toString("base64url")}`;
}

const seedOf = (key: KeyPair) => new TextDecoder().decode(key.getSeed());

describe("verified tenants", () => {
  const scope = suiteScope();
  const gatewayKey = createUser();
  const strangerKey = createUser();
  let natsUrl: string;
  let gateway: Mesh;
  let stranger: Mesh;
  let admin: Mesh;
  let meshes: Mesh[];
  let runs = 0;

  async function apply(require: "verified" | "asserted"): Promise<void> {
    const document: PolicyInput = {
      tenants: {
        unknownTenants: { plan: "default" },
        plans: { default: {} },
        tenants: {},
        issuers: { gateway: { publicKey: gatewayKey.getPublicKey() } },
        require,
      },
      quotas: [
        {
          name: "limited-per-tenant",
          match: { tenant: "*", service: "tenanted", endpoint: "limited" },
          rate: 1,
          periodMs: 3_600_000,
          burst: 2,
          onStoreFailure: "closed",
        },
      ],
    };
    const { version } = await admin.client(controllerContract).apply({ document });
    for (const mesh of meshes) await eventually(() => assert.equal(mesh.policyVersion, version));
  }

  /** A request sent as-is on a raw connection: the headers are exactly the ones given. */
  async function raw(endpoint: string, headerValues: Record<string, string>, body: unknown = {}) {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(headerValues)) h.set(k, v);
    const reply = await stranger.connection.request(`mesh.svc.tenanted.${endpoint}`, JSON.stringify(body), {
      headers: h,
      timeout: 5_000,
    });
    const code = reply.headers?.get("Mesh-Error") || undefined;
    return { code, body: reply.json() as { tenant?: string | null; verified?: boolean; message?: string } };
  }

  before(async () => {
    const nats = await startNats(scope, { jetstream: true });
    natsUrl = nats.url;
    const redis = await startRedis(scope);
    await controllerFor(scope, natsUrl);
    admin = await meshFor(scope, natsUrl, "admin", { policy: { follow: false } });
    // the broker here is open: who signed a token is what counts, not the connection's identity
    gateway = await meshFor(scope, natsUrl, "gateway", { auth: { nkeySeed: seedOf(gatewayKey) } });
    stranger = await meshFor(scope, natsUrl, "stranger", { auth: { nkeySeed: seedOf(strangerKey) } });
    const service = await meshFor(scope, natsUrl, "tenanted", {
      redis: { url: redis.url, commandTimeoutMs: 1_000 },
    });
    const downstream = await meshFor(scope, natsUrl, "downstream");
    await downstream.serve(downstreamContract, {
      whoami: (_input, ctx) => ({ tenant: ctx.tenant ?? null, verified: ctx.tenantVerified }),
    });
    await service.serve(tenantedContract, {
      whoami: (_input, ctx) => ({ tenant: ctx.tenant ?? null, verified: ctx.tenantVerified }),
      limited: (_input, ctx) => ({ tenant: ctx.tenant ?? null, verified: ctx.tenantVerified }),
      relay: ({ asTenant }, ctx) =>
        ctx.client(downstreamContract).whoami({}, asTenant === undefined ? {} : { tenant: asTenant }),
      charge: async ({ amount, workMs }, ctx) => {
        runs++;
        const run = runs;
        if (workMs !== undefined) await delay(workMs); // work that ignores its deadline
        return { run, amount, tenant: ctx.tenant ?? null };
      },
    });
    meshes = [gateway, stranger, service, downstream];
    await apply("asserted");
  });

  it("the issuer's calls carry a token: the callee serves the verified tenant", async () => {
    const seen = await gateway.client(tenantedContract).whoami({}, { tenant: "acme" });
    assert.deepEqual(seen, { tenant: "acme", verified: true });
    // a runtime the policy does not name as issuer signs nothing: its tenant is only asserted
    const asserted = await stranger.client(tenantedContract).whoami({}, { tenant: "acme" });
    assert.deepEqual(asserted, { tenant: "acme", verified: false });
  });

  it("a token signed by a non-issuer, expired, or for another tenant is refused", async () => {
    const now = Date.now();
    const valid = await raw("whoami", { "Mesh-Tenant-Token": token(gatewayKey, "acme", now, now + 60_000) });
    assert.deepEqual(valid.body, { tenant: "acme", verified: true }, "a token alone names the tenant");

    const forged = await raw("whoami", {
      "Mesh-Tenant": "acme",
      "Mesh-Tenant-Token": token(strangerKey, "acme", now, now + 60_000),
    });
    assert.equal(forged.code, "UNAUTHENTICATED");
    assert.match(String(forged.body.message), /not a tenant issuer/);

    const expired = await raw("whoami", {
      "Mesh-Tenant": "acme",
      "Mesh-Tenant-Token": token(gatewayKey, "acme", now - 600_000, now - 300_000),
    });
    assert.equal(expired.code, "UNAUTHENTICATED");
    assert.match(String(expired.body.message), /expired/);

    // a forged Mesh-Tenant beside a valid token for another tenant is judged by the token
    const other = await raw("whoami", {
      "Mesh-Tenant": "acme",
      "Mesh-Tenant-Token": token(gatewayKey, "globex", now, now + 60_000),
    });
    assert.equal(other.code, "UNAUTHENTICATED");
    assert.match(String(other.body.message), /for globex, not for acme/);

    const tampered = token(gatewayKey, "globex", now, now + 60_000).split(".");
    const claims = Buffer.from(
      JSON.stringify({ tenant: "acme", iss: gatewayKey.getPublicKey(), iatMs: now, expMs: now + 60_000 }),
    );
    tampered[1] = claims.toString("base64url");
    const edited = await raw("whoami", { "Mesh-Tenant-Token": tampered.join(".") });
    assert.equal(edited.code, "UNAUTHENTICATED");
  });

  it("a chain issuer → A → B keeps the token; A cannot swap in another tenant", async () => {
    await apply("verified");
    try {
      const relayed = await gateway.client(tenantedContract).relay({}, { tenant: "acme" });
      assert.deepEqual(
        relayed,
        { tenant: "acme", verified: true },
        "B sees the tenant the issuer vouched for",
      );
      // A (not an issuer) names another tenant for its downstream call: B refuses it
      await failsWith(
        gateway.client(tenantedContract).relay({ asTenant: "globex" }, { tenant: "acme" }),
        "UNAUTHENTICATED",
      );
    } finally {
      await apply("asserted");
    }
  });

  it("require: verified refuses a request with only Mesh-Tenant, and a non-issuer's tenant", async () => {
    await apply("verified");
    try {
      const headerOnly = await raw("whoami", { "Mesh-Tenant": "acme" });
      assert.equal(headerOnly.code, "UNAUTHENTICATED");
      await failsWith(stranger.client(tenantedContract).whoami({}, { tenant: "acme" }), "UNAUTHENTICATED");
      assert.deepEqual(await gateway.client(tenantedContract).whoami({}, { tenant: "acme" }), {
        tenant: "acme",
        verified: true,
      });
      // a request naming no tenant is nobody's: served without one
      assert.deepEqual(await stranger.client(tenantedContract).whoami({}), { tenant: null, verified: false });
    } finally {
      await apply("asserted");
    }
  });

  it("quotas count the verified tenant, never the asserted header", async () => {
    const now = Date.now();
    const alpha = token(gatewayKey, "quota-alpha", now, now + 60_000);
    // two requests for alpha carry only its token: they spend alpha's burst of 2
    for (let i = 0; i < 2; i++) {
      const r = await raw("limited", { "Mesh-Tenant-Token": alpha });
      assert.deepEqual(r.body, { tenant: "quota-alpha", verified: true });
    }
    await failsWith(
      gateway.client(tenantedContract).limited({}, { tenant: "quota-alpha", maxAttempts: 1 }),
      "QUOTA_EXCEEDED",
    );
    // alpha's token with beta's name is refused before the quota: beta's bucket is untouched
    for (let i = 0; i < 3; i++) {
      const r = await raw("limited", { "Mesh-Tenant": "quota-beta", "Mesh-Tenant-Token": alpha });
      assert.equal(r.code, "UNAUTHENTICATED");
    }
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await gateway.client(tenantedContract).limited({}, { tenant: "quota-beta" }), {
        tenant: "quota-beta",
        verified: true,
      });
    }
  });

  describe("replay bound to who asked and what", () => {
    it("the same key with another body is CONFLICT, never the first's result", async () => {
      const client = gateway.client(tenantedContract);
      const opts = { tenant: "acme", idempotencyKey: "body-bound", maxAttempts: 1 };
      const first = await client.charge({ amount: 100 }, opts);
      assert.deepEqual(await client.charge({ amount: 100 }, opts), first, "the same call is replayed");
      const other = await failsWith(client.charge({ amount: 999 }, opts), "CONFLICT");
      assert.equal((other.details as { reason?: string }).reason, "body-mismatch");
      assert.equal(runs, first.run, "the handler did not run for the other body");
    });

    it("the same key from another caller or another tenant runs anew, not replaying the first", async () => {
      const key = { idempotencyKey: "shared-key", maxAttempts: 1 };
      const first = await gateway.client(tenantedContract).charge({ amount: 5 }, { ...key, tenant: "acme" });
      const otherTenant = await gateway
        .client(tenantedContract)
        .charge({ amount: 5 }, { ...key, tenant: "globex" });
      assert.notEqual(otherTenant.run, first.run);
      assert.equal(otherTenant.tenant, "globex");
      const otherCaller = await stranger
        .client(tenantedContract)
        .charge({ amount: 5 }, { ...key, tenant: "acme" });
      assert.notEqual(otherCaller.run, first.run);
      assert.notEqual(otherCaller.run, otherTenant.run);
      // and the first caller still gets its own result
      assert.deepEqual(
        await gateway.client(tenantedContract).charge({ amount: 5 }, { ...key, tenant: "acme" }),
        first,
      );
    });

    it("a handler that outlives its claim keeps it: a repeat is CONFLICT, then the replay", async () => {
      const client = gateway.client(tenantedContract);
      const opts = { tenant: "acme", idempotencyKey: "slow-one", maxAttempts: 1 };
      const before = runs;
      // the claim lasts the request's budget + 1 s (1.3 s); the handler works 2.5 s
      await failsWith(
        client.charge({ amount: 7, workMs: 2_500 }, { ...opts, timeoutMs: 300 }),
        "DEADLINE_EXCEEDED",
      );
      await delay(1_500); // past the unrenewed claim's end, before the handler's
      await failsWith(client.charge({ amount: 7, workMs: 2_500 }, opts), "CONFLICT");
      const replayed = await eventually(() => client.charge({ amount: 7, workMs: 2_500 }, opts), 10_000, 100);
      assert.equal(replayed.run, before + 1);
      assert.equal(runs, before + 1, "the handler ran once");
    });

    it("a retry that finds the first attempt still running, with no time to wait, ends as that attempt's timeout", async () => {
      const client = gateway.client(tenantedContract);
      const before = runs;
      // attempt 1 times out after 200 ms; attempt 2 is told to come back in ~1 s, past the deadline
      const error = await failsWith(
        client.charge(
          { amount: 9, workMs: 1_500 },
          { tenant: "acme", idempotencyKey: "still-running", timeoutMs: 700, attemptTimeoutMs: 200 },
        ),
        "DEADLINE_EXCEEDED",
      );
      assert.notEqual(error.code, "CONFLICT");
      await eventually(() => assert.equal(runs, before + 1, "the handler ran once"), 10_000, 50);
    });
  });
});
