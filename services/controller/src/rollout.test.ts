import assert from "node:assert/strict";
import { test } from "node:test";
import type { AppliedReport } from "@switchyard/schemas";
import { RolloutTracker } from "./rollout.js";

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
