import assert from "node:assert/strict";
import { test } from "node:test";
import { Policy } from "@switchyard/schemas";
import { QuotaRules } from "./quota-rules.js";

const policy = Policy.parse({
  tenants: {
    unknownTenants: { plan: "free" },
    plans: { free: {}, pro: {} },
    tenants: { acme: { plan: "pro" } },
  },
  quotas: [
    {
      name: "all",
      match: { service: "*", endpoint: "*" },
      rate: 100,
      periodMs: 1000,
      onStoreFailure: "open",
    },
    {
      name: "pro-all",
      match: { plan: "pro", service: "*", endpoint: "*" },
      rate: 1000,
      periodMs: 1000,
      onStoreFailure: "open",
    },
    {
      name: "acme-all",
      match: { tenant: "acme", service: "*", endpoint: "*" },
      rate: 5000,
      periodMs: 1000,
      onStoreFailure: "closed",
    },
    {
      name: "create",
      match: { service: "orders", endpoint: "create" },
      rate: 10,
      periodMs: 1000,
      burst: 2,
      onStoreFailure: "local",
    },
  ],
});

test("the most specific rule per scope wins, and every scope applies", () => {
  const rules = new QuotaRules(policy);
  const names = (tenant: string | undefined, plan: string | undefined, endpoint = "create") =>
    rules
      .match("orders", endpoint, tenant, plan)
      .map((r) => r.name)
      .sort();
  assert.deepEqual(names("globex", "free"), ["all", "create"]);
  assert.deepEqual(names("initech", "pro"), ["create", "pro-all"]);
  assert.deepEqual(names("acme", "pro"), ["acme-all", "create"]);
  assert.deepEqual(names("acme", "pro", "get"), ["acme-all"]);
  assert.deepEqual(names(undefined, undefined, "get"), ["all"]);
});

test("rules compile to GCRA parameters; burst defaults to the rate", () => {
  const rules = new QuotaRules(policy);
  const [create] = rules.match("orders", "create", "x", undefined).filter((r) => r.name === "create");
  assert.equal(create?.intervalUs, 100_000);
  assert.equal(create?.depth, 2);
  const [all] = rules.match("inventory", "stock", "x", undefined);
  assert.equal(all?.depth, 100);
  assert.ok(new QuotaRules(undefined).empty);
});
