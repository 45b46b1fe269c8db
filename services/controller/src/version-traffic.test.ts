import assert from "node:assert/strict";
import { it } from "node:test";
import type { MeshStatsResponse } from "@switchyard/schemas";
import { versionRowsOf, versionSampleOf } from "./version-traffic.js";

function reply(id: string, version: string, requests: number, errors = 0): MeshStatsResponse {
  return {
    type: "io.nats.micro.v1.stats_response",
    name: "payments",
    id,
    version,
    started: "2026-01-01T00:00:00Z",
    endpoints: ["charge", "refund"].map((name) => ({
      name,
      subject: `mesh.svc.payments.${name}`,
      num_requests: requests / 2,
      num_errors: errors / 2,
      last_error: "",
      processing_time: 0,
      average_processing_time: 0,
    })),
  };
}

it("sums instances per version, with each version's share of the service's calls", () => {
  const before = versionSampleOf([
    reply("a", "1.0.0", 100),
    reply("b", "1.1.0", 100),
    reply("c", "2.0.0", 10),
  ]);
  const now = versionSampleOf([
    reply("a", "1.0.0", 280),
    reply("b", "1.1.0", 280),
    reply("c", "2.0.0", 50, 4),
    // new since the last collection: its requests are all in this interval
    reply("d", "2.0.0", 2),
  ]);
  assert.deepEqual(versionRowsOf(now, before, 2_000), [
    { service: "payments", version: "1.0.0", instances: 1, callsPerSec: 90, successRate: 1, share: 0.4478 },
    { service: "payments", version: "1.1.0", instances: 1, callsPerSec: 90, successRate: 1, share: 0.4478 },
    {
      service: "payments",
      version: "2.0.0",
      instances: 2,
      callsPerSec: 21,
      successRate: 0.9048,
      share: 0.1045,
    },
  ]);
});

it("a first collection has no rates; a restarted instance counts from zero", () => {
  const first = versionSampleOf([reply("a", "1.0.0", 100)]);
  assert.deepEqual(versionRowsOf(first, undefined, 1_000), [
    { service: "payments", version: "1.0.0", instances: 1, callsPerSec: 0, successRate: null, share: null },
  ]);
  const restarted = versionSampleOf([reply("a", "1.0.0", 10)]);
  assert.equal(versionRowsOf(restarted, first, 1_000)[0]?.callsPerSec, 10);
});
