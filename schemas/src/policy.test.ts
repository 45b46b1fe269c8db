import assert from "node:assert/strict";
import { test } from "node:test";
import { AppliedReport, Policy, type PolicyInput, PolicySnapshot } from "./policy.js";

// public keys only (no seeds): two users and an account
const GATEWAY_KEY = "UBU6RCWKDMVRNMT3IVJSTGQFZZRXFR5QQKINX5MJNG5SRPDCSPFQGXKE";
const OTHER_KEY = "UAZHTAWMVLVR6F5K5H35NYNZWRI5MB2PAHJQTOXW3OQT5RL3LB7FTE5E";
const ACCOUNT_KEY = "AAB56ROOEVZL7BM7P55P6HJH3A26GZKCHVVGMJJAUR66L74VMUCWNCP6";

const tenants = (extra: Record<string, unknown>): PolicyInput => ({
  tenants: { unknownTenants: { plan: "default" }, plans: { default: {} }, tenants: {}, ...extra },
});

function issues(input: unknown): string[] {
  const parsed = Policy.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

test("tenants default to no issuers and asserted tenants", () => {
  assert.deepEqual(Policy.parse({}).tenants.issuers, {});
  assert.equal(Policy.parse({}).tenants.require, "asserted");
  assert.equal(Policy.parse(tenants({})).tenants.require, "asserted");
});

test("an issuer is named by identity with a public user nkey", () => {
  const policy = Policy.parse(
    tenants({ issuers: { gateway: { publicKey: GATEWAY_KEY } }, require: "verified" }),
  );
  assert.equal(policy.tenants.issuers["gateway"]?.publicKey, GATEWAY_KEY);
  assert.equal(policy.tenants.require, "verified");
});

test("an issuer key that is not a public user nkey is refused", () => {
  const corrupted = `${GATEWAY_KEY.slice(0, 20)}${GATEWAY_KEY[20] === "A" ? "B" : "A"}${GATEWAY_KEY.slice(21)}`;
  for (const publicKey of [
    ACCOUNT_KEY,
    corrupted,
    "UNOTAKEY",
    GATEWAY_KEY.toLowerCase(),
    `S${GATEWAY_KEY.slice(1)}`,
  ]) {
    const found = issues(tenants({ issuers: { gateway: { publicKey } } }));
    assert.ok(
      found.some((i) => i.startsWith("tenants.issuers.gateway.publicKey")),
      `${publicKey}: ${found.join("; ")}`,
    );
  }
  assert.ok(issues(tenants({ require: "sometimes" })).some((i) => i.startsWith("tenants.require")));
  assert.ok(issues(tenants({ issuers: { "not a name": { publicKey: GATEWAY_KEY } } })).length > 0);
});

test("two issuers with one key are refused: a token must name one issuer", () => {
  const found = issues(
    tenants({ issuers: { gateway: { publicKey: GATEWAY_KEY }, edge: { publicKey: GATEWAY_KEY } } }),
  );
  assert.ok(
    found.some((i) => i.includes("same key")),
    found.join("; "),
  );
  assert.deepEqual(
    issues(tenants({ issuers: { gateway: { publicKey: GATEWAY_KEY }, edge: { publicKey: OTHER_KEY } } })),
    [],
  );
});

const quota = (over: Record<string, unknown>) => ({
  quotas: [
    {
      name: "q",
      match: { service: "*", endpoint: "*" },
      rate: 10,
      periodMs: 1_000,
      onStoreFailure: "open",
      ...over,
    },
  ],
});

test("a quota whose burst is below its cost is refused: no request could be admitted", () => {
  assert.ok(issues(quota({ burst: 2, cost: 3 })).some((i) => i.startsWith("quotas.0.burst")));
  assert.ok(issues(quota({ burst: 0 })).some((i) => i.startsWith("quotas.0.burst")));
  // without a burst the depth is the rate: a cost above it can never fit either
  assert.ok(issues(quota({ cost: 11 })).some((i) => i.startsWith("quotas.0.cost")));
  assert.deepEqual(issues(quota({ burst: 3, cost: 3 })), []);
  assert.deepEqual(issues(quota({ cost: 10 })), []);
});

test("versions are bounded to safe integers", () => {
  const snapshot = (version: number) => ({
    version,
    hash: "0".repeat(64),
    createdAt: new Date(0).toISOString(),
    document: {},
  });
  assert.ok(PolicySnapshot.safeParse(snapshot(Number.MAX_SAFE_INTEGER)).success);
  assert.ok(!PolicySnapshot.safeParse(snapshot(Number.MAX_SAFE_INTEGER + 1)).success);
  assert.ok(!PolicySnapshot.safeParse(snapshot(2 ** 60)).success);
  assert.ok(!PolicySnapshot.safeParse({ ...snapshot(2), rollbackOf: 2 ** 60 }).success);
  const report = {
    instanceId: "i",
    service: "s",
    version: 2 ** 60,
    status: "applied",
    at: new Date(0).toISOString(),
    heartbeatMs: 1_000,
  };
  assert.ok(!AppliedReport.safeParse(report).success);
});
