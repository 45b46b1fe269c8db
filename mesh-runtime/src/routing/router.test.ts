import assert from "node:assert/strict";
import { test } from "node:test";
import { Policy, type PolicyInput } from "@switchyard/schemas";
import { parseMeshOptions } from "../options.js";
import { CompiledPolicy } from "../policy/effective-settings.js";
import { Router } from "./router.js";

const calls = parseMeshOptions({ name: "t" }).calls;
const compiled = (input: PolicyInput) => new CompiledPolicy(1, Policy.parse(input), calls);
const charge = { service: "payments", endpoint: "charge", subject: "mesh.svc.payments.charge" };
const refund = { service: "payments", endpoint: "refund", subject: "mesh.svc.payments.refund" };

/** A random source that returns the given rolls in turn, as fractions of 1. */
function rolls(...values: number[]) {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

test("no routes, no chain state: the plain subject, nothing to carry", () => {
  const router = new Router();
  const d = router.route(charge, compiled({}), "acme", undefined, undefined);
  assert.deepEqual(d, { subject: charge.subject, major: undefined, header: undefined, mirrors: [] });
  assert.equal(router.route(charge, compiled({}), "acme", undefined, undefined), d, "made once per target");
});

test("a weighted split picks by its cumulative weights", () => {
  const policy = compiled({ routes: [{ service: "payments", to: { "1.x": 90, "2.x": 10 } }] });
  const router = new Router(rolls(0, 0.8999, 0.9, 0.9999));
  const majors = [1, 2, 3, 4].map(() => router.route(charge, policy, undefined, undefined, undefined).major);
  assert.deepEqual(majors, [1, 1, 2, 2]);
  assert.equal(
    router.route(charge, policy, undefined, undefined, undefined).subject,
    "mesh.ver.payments.1.charge",
  );
});

test("first matching route wins: tenant, plan, route header; endpoint-scoped routes", () => {
  const policy = compiled({
    tenants: {
      unknownTenants: { plan: "free" },
      plans: { free: {}, pro: {} },
      tenants: { acme: { plan: "pro" } },
    },
    routes: [
      { service: "payments", match: { tenant: "acme" }, to: "3.x" },
      { service: "payments", match: { header: { name: "Canary", value: "yes" } }, to: "2.x" },
      { service: "payments", endpoint: "refund", match: { plan: "free" }, to: "4.x" },
      { service: "payments", to: "1.x" },
    ],
  });
  const router = new Router(rolls(0.5));
  const major = (t: typeof charge, tenant?: string, route?: string, own?: Record<string, string>) =>
    router.route(t, policy, tenant, route === undefined ? undefined : { route }, own).major;
  assert.equal(major(charge, "acme"), 3);
  assert.equal(major(charge, "globex", "canary=yes"), 2, "from the chain's Mesh-Route");
  assert.equal(major(charge, "globex", undefined, { canary: "yes" }), 2, "from the call's own route headers");
  assert.equal(major(charge, "globex", "canary=no", { CANARY: "yes" }), 2, "the call's own win");
  assert.equal(major(refund, "globex"), 4);
  assert.equal(major(charge, "globex"), 1);
});

test("sticky: the chosen version is pinned in Mesh-Route, and a pin wins over every route", () => {
  const policy = compiled({ routes: [{ service: "payments", to: { "1.x": 50, "2.x": 50 }, sticky: true }] });
  const router = new Router(rolls(0.7, 0.1));
  const handled = { route: "canary=1" };
  const first = router.route(charge, policy, undefined, handled, undefined);
  assert.equal(first.major, 2);
  assert.equal(first.header, "canary=1,@payments=2");
  // a later call made while handling the same request keeps it, whatever it rolls
  const sibling = router.route(refund, policy, undefined, handled, undefined);
  assert.deepEqual([sibling.major, sibling.header], [2, first.header]);
  // the next hop too, and passes the header on as it came
  const next = new Router(rolls(0.1)).route(refund, policy, undefined, { route: first.header }, undefined);
  assert.equal(next.major, 2);
  assert.equal(next.header, first.header);
  // a pin holds even where no route names the service any more
  const later = new Router().route(refund, compiled({}), undefined, { route: first.header }, undefined);
  assert.equal(later.subject, "mesh.ver.payments.2.refund");
  // another request handled: a fresh roll
  assert.equal(router.route(refund, policy, undefined, { route: undefined }, undefined).major, 1);
});

test("mirrors: rolled per call for their share, never to the version the call goes to", () => {
  const policy = compiled({
    routes: [{ service: "payments", match: { tenant: "acme" }, to: "2.x" }],
    mirrors: [{ service: "payments", endpoint: "charge", to: "2.x", percent: 25 }],
  });
  const router = new Router(rolls(0.2, 0.3));
  assert.deepEqual(router.route(charge, policy, "globex", undefined, undefined).mirrors, [
    { major: 2, subject: "mesh.ver.payments.2.charge" },
  ]);
  assert.deepEqual(router.route(charge, policy, "globex", undefined, undefined).mirrors, []);
  assert.deepEqual(new Router(rolls(0)).route(charge, policy, "acme", undefined, undefined).mirrors, []);
  assert.deepEqual(new Router(rolls(0)).route(refund, policy, "globex", undefined, undefined).mirrors, []);
});
