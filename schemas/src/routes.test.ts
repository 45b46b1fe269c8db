import assert from "node:assert/strict";
import { test } from "node:test";
import { Policy } from "./policy.js";

function issues(input: unknown): string[] {
  const parsed = Policy.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

test("routes: weighted splits, one version, matches and sticky parse with their defaults", () => {
  const policy = Policy.parse({
    routes: [
      { service: "payments", match: { tenant: "acme" }, to: "2.x", sticky: true },
      { service: "payments", endpoint: "charge", to: { "1.x": 95, "2.x": 5 } },
    ],
    mirrors: [{ service: "payments", to: "2.x", percent: 12.5 }],
  });
  assert.equal(policy.routes[0]?.endpoint, "*");
  assert.equal(policy.routes[1]?.sticky, false);
  assert.equal(policy.mirrors[0]?.percent, 12.5);
  assert.deepEqual(Policy.parse({}).routes, []);
});

test("routes: weights that do not sum to 100 are refused at the route's path", () => {
  assert.deepEqual(issues({ routes: [{ service: "payments", to: { "1.x": 95, "2.x": 10 } }] }), [
    "routes.0.to: weights sum to 105; they must sum to 100",
  ]);
  assert.deepEqual(issues({ routes: [{ service: "p", to: {} }] }), [
    "routes.0.to: name at least one version",
  ]);
  assert.ok(issues({ routes: [{ service: "p", to: { "1.x": -5, "2.x": 105 } }] }).length > 0);
});

test("routes: an unknown version syntax is refused, naming the accepted one", () => {
  for (const to of ["2", "v2", "2.1.x", "payments@2.x", "02.x", { "2.1": 100 }]) {
    const found = issues({ routes: [{ service: "payments", to }] });
    assert.ok(
      found.some((i) => i.startsWith("routes.0.to") && /major version such as "2.x"|Invalid/.test(i)),
      `${JSON.stringify(to)}: ${found.join("; ")}`,
    );
  }
  assert.ok(issues({ mirrors: [{ service: "p", to: "v2", percent: 5 }] })[0]?.startsWith("mirrors.0.to"));
});

test("routes: an empty match, an unknown plan, a duplicate that never applies, a share over 100", () => {
  assert.deepEqual(issues({ routes: [{ service: "p", match: {}, to: "1.x" }] }), [
    "routes.0.match: name a tenant, a plan or a header (leave match out to match every call)",
  ]);
  assert.deepEqual(issues({ routes: [{ service: "p", match: { plan: "gold" }, to: "1.x" }] }), [
    'routes.0.match.plan: plan "gold" is not declared in tenants.plans',
  ]);
  assert.deepEqual(
    issues({
      routes: [
        { service: "p", to: "1.x" },
        { service: "p", endpoint: "*", to: "2.x" },
      ],
    }),
    ["routes.1: routes[0] has the same service, endpoint and match: this one never applies"],
  );
  assert.ok(
    issues({ mirrors: [{ service: "p", to: "2.x", percent: 101 }] })[0]?.startsWith("mirrors.0.percent"),
  );
  assert.ok(issues({ routes: [{ service: "p", to: "1.x", weight: 3 }] })[0]?.includes("weight"));
});
