import assert from "node:assert/strict";
import { test } from "node:test";
import { diffDocuments, renderDiff } from "./policy-diff.js";

test("changes are listed by path, objects key by key", () => {
  const changes = diffDocuments(
    { defaults: { timeoutMs: 5000 }, services: { orders: { timeoutMs: 100 } }, quotas: [1] },
    { defaults: { timeoutMs: 2000 }, services: { "my.svc": { idempotent: true } }, quotas: [1, 2] },
  );
  assert.deepEqual(
    changes.map((c) => `${c.op} ${c.path}`),
    ["changed defaults.timeoutMs", "changed quotas", 'added services["my.svc"]', "removed services.orders"],
  );
  assert.match(renderDiff(changes), /~ defaults\.timeoutMs: 5000 → 2000/);
});

test("identical documents have no changes", () => {
  assert.deepEqual(diffDocuments({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), []);
  assert.equal(renderDiff([]), "no changes");
});
