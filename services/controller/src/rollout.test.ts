import assert from "node:assert/strict";
import { test } from "node:test";
import type { AppliedReport } from "@switchyard/schemas";
import { DroppedReports, RolloutTracker, reportRefusal } from "./rollout.js";

const report = (over: Partial<AppliedReport>): AppliedReport => ({
  instanceId: "i1",
  service: "orders",
  version: 1,
  status: "applied",
  at: "2026-01-01T00:00:00.000Z",
  heartbeatMs: 1_000,
  ...over,
});

test("instances are current, lagging or rejected against the version", () => {
  const t = new RolloutTracker();
  t.record(report({ instanceId: "a", version: 2 }), 0);
  t.record(report({ instanceId: "b", version: 1 }), 0);
  t.record(report({ instanceId: "c", version: 1, status: "rejected", about: 2, reason: "bad" }), 0);
  assert.deepEqual(
    t.status(2, 10).map((s) => [s.instanceId, s.state, s.reason]),
    [
      ["a", "current", undefined],
      ["b", "lagging", undefined],
      ["c", "rejected", "bad"],
    ],
  );
});

test("a rejection is forgotten once a newer version applies", () => {
  const t = new RolloutTracker();
  t.record(report({ status: "rejected", about: 2, reason: "bad" }), 0);
  t.record(report({ status: "heartbeat" }), 1);
  assert.equal(t.status(2, 2)[0]?.state, "rejected");
  t.record(report({ version: 3 }), 3);
  assert.equal(t.status(3, 4)[0]?.state, "current");
});

test("silent instances drop out after three heartbeats, stopped ones at once", () => {
  const t = new RolloutTracker();
  t.record(report({ instanceId: "quiet" }), 0);
  t.record(report({ instanceId: "leaving" }), 0);
  t.record(report({ instanceId: "leaving", status: "stopped" }), 1);
  assert.deepEqual(
    t.status(1, 2_000).map((s) => s.instanceId),
    ["quiet"],
  );
  assert.deepEqual(t.status(1, 3_001), []);
});

test("a lagging rollout asks for reports; an instance that does not answer within a second is gone", () => {
  const t = new RolloutTracker();
  const slow = { heartbeatMs: 30_000 };
  t.record(report({ instanceId: "alive", version: 1, ...slow }), 0);
  t.record(report({ instanceId: "crashed", version: 1, ...slow }), 0);
  assert.equal(t.shouldProbe(1, 100), false, "nothing lags");
  assert.equal(t.shouldProbe(2, 200), true);
  assert.equal(t.shouldProbe(2, 300), false, "not again so soon");
  t.record(report({ instanceId: "alive", version: 1, status: "heartbeat", ...slow }), 250);
  assert.deepEqual(
    t.status(2, 900).map((s) => s.instanceId),
    ["alive", "crashed"],
    "still within the grace period",
  );
  assert.deepEqual(
    t.status(2, 1_300).map((s) => [s.instanceId, s.state]),
    [["alive", "lagging"]],
  );
});

test("the tracker holds a bounded number of instances and drops reports past it until some expire", () => {
  const t = new RolloutTracker();
  for (let i = 0; i < 10_000; i++) assert.ok(t.record(report({ instanceId: `i${i}` }), 0));
  assert.equal(t.record(report({ instanceId: "one-too-many" }), 0), false);
  // a known instance still reports while the tracker is full
  assert.ok(t.record(report({ instanceId: "i1", version: 2 }), 0));
  // three missed heartbeats later the old ones are gone and room is made
  assert.ok(t.record(report({ instanceId: "late" }), 3_001));
  assert.deepEqual(
    t.status(1, 3_001).map((s) => s.instanceId),
    ["late"],
  );
});

test("a report cannot make itself immortal with a huge heartbeat period", () => {
  const t = new RolloutTracker();
  t.record(report({ instanceId: "forever", heartbeatMs: Number.MAX_SAFE_INTEGER }), 0);
  assert.equal(t.status(1, 30 * 60_000 + 1).length, 0);
});

// issue 14: an instance reports rollout state only for itself
test("a sender reports only for its own service; without a vouching broker every report is taken", () => {
  const forOrders = report({ service: "orders" });
  assert.equal(reportRefusal(forOrders, { kind: "account", account: "orders" }, "controller"), undefined);
  assert.equal(
    reportRefusal(forOrders, { kind: "account", account: "payments" }, "controller"),
    "payments may not report for orders",
  );
  // no broker info: published in the controller's own account, so only its own runtime's report
  assert.equal(reportRefusal(report({ service: "controller" }), { kind: "own" }, "controller"), undefined);
  assert.equal(
    reportRefusal(forOrders, { kind: "own" }, "controller"),
    "controller may not report for orders",
  );
  assert.ok(reportRefusal(forOrders, { kind: "untrusted" }, "controller"));
  assert.equal(reportRefusal(forOrders, { kind: "unknown" }, "controller"), undefined);
});

test("instances are known by service and id: one service cannot stop or replace another's", () => {
  const t = new RolloutTracker();
  t.record(report({ instanceId: "p1", service: "payments", version: 2 }), 0);
  t.record(report({ instanceId: "p1", service: "orders", status: "stopped" }), 1);
  t.record(report({ instanceId: "p1", service: "orders", version: 1 }), 1);
  assert.deepEqual(
    t.status(2, 2).map((s) => [s.service, s.instanceId, s.state]),
    [
      ["orders", "p1", "lagging"],
      ["payments", "p1", "current"],
    ],
  );
});

test("dropped reports are all counted but warned about at most every 10 s", () => {
  const d = new DroppedReports();
  assert.equal(d.drop(0), 1);
  assert.equal(d.drop(1), undefined);
  assert.equal(d.drop(9_999), undefined);
  assert.equal(d.drop(10_000), 3);
  assert.equal(d.count, 4);
});
