import assert from "node:assert/strict";
import { test } from "node:test";
import { Policy } from "@switchyard/schemas";
import { parseMeshOptions } from "../options.js";
import { CompiledPolicy } from "./effective-settings.js";

const calls = parseMeshOptions({ name: "t" }).calls;
const none = { timeoutMs: undefined, idempotent: false };

test("without a policy the mesh options decide", () => {
  const s = new CompiledPolicy(0, undefined, calls).resolve("a", "b", none, undefined);
  assert.equal(s.timeoutMs, calls.timeoutMs);
  assert.equal(s.retry.maxAttempts, calls.retry.maxAttempts);
});

test("defaults → contract → service → endpoint → plan, most specific last", () => {
  const policy = Policy.parse({
    defaults: { timeoutMs: 4_000, retry: { maxAttempts: 2 } },
    services: {
      orders: {
        timeoutMs: 3_000,
        endpoints: { create: { timeoutMs: 1_000, retry: { backoff: { baseMs: 5, maxMs: 50 } } } },
      },
    },
    tenants: {
      unknownTenants: { plan: "free" },
      plans: { free: {}, gold: { settings: { retry: { maxAttempts: 5 } } } },
      tenants: { acme: { plan: "gold" } },
    },
  });
  const compiled = new CompiledPolicy(3, policy, calls);
  assert.equal(compiled.resolve("other", "x", none, undefined).timeoutMs, 4_000);
  assert.equal(
    compiled.resolve("other", "x", { timeoutMs: 2_500, idempotent: true }, undefined).timeoutMs,
    2_500,
  );
  assert.equal(
    compiled.resolve("orders", "get", { timeoutMs: 2_500, idempotent: true }, undefined).timeoutMs,
    3_000,
  );
  const create = compiled.resolve("orders", "create", none, compiled.planOf("acme"));
  assert.deepEqual(
    [create.timeoutMs, create.retry.maxAttempts, create.retry.backoff.baseMs, create.retry.backoff.maxMs],
    [1_000, 5, 5, 50],
  );
  assert.equal(compiled.planOf("stranger"), "free");
  assert.equal(compiled.resolve("orders", "create", none, compiled.planOf("stranger")).retry.maxAttempts, 2);
});

test("tenants are looked up as own keys: a tenant named like a prototype member is unknown", () => {
  const policy = Policy.parse({
    services: { constructor: { timeoutMs: 1_234 } },
    tenants: {
      unknownTenants: { plan: "free" },
      plans: { free: { settings: { retry: { maxAttempts: 1 } } }, gold: {} },
      tenants: { acme: { plan: "gold" } },
    },
  });
  const compiled = new CompiledPolicy(1, policy, calls);
  for (const tenant of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    assert.equal(compiled.planOf(tenant), "free", tenant);
  }
  assert.equal(compiled.planOf("acme"), "gold");
  const denying = new CompiledPolicy(
    2,
    Policy.parse({
      tenants: { unknownTenants: "deny", plans: { gold: {} }, tenants: { acme: { plan: "gold" } } },
    }),
    calls,
  );
  assert.equal(denying.planOf("constructor"), undefined);
  assert.equal(denying.admitsTenant("constructor"), false);
  // and names of services or endpoints do not reach the prototype either
  assert.equal(compiled.resolve("orders", "toString", none, undefined).timeoutMs, calls.timeoutMs);
  assert.equal(compiled.resolve("constructor", "x", none, undefined).timeoutMs, 1_234);
});
