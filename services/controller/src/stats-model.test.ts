import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MeshStatsResponse } from "@switchyard/schemas";
import {
  breakersOf,
  callerSideOf,
  edgeRowsOf,
  edgesOf,
  ejectionsOf,
  quantile,
  rowsOf,
  sampleOf,
} from "./stats-model.js";

const BOUNDS = [1, 10, 100];

function reply(
  id: string,
  requests: number,
  errors: number,
  counts: number[],
  calls: MeshStatsResponse["mesh_calls"] = [],
): MeshStatsResponse {
  return {
    type: "io.nats.micro.v1.stats_response",
    name: "svc",
    id,
    version: "1.0.0",
    started: "2026-01-01T00:00:00Z",
    endpoints: [
      {
        name: "ep",
        subject: "mesh.svc.svc.ep",
        num_requests: requests,
        num_errors: errors,
        last_error: "",
        processing_time: 0,
        average_processing_time: 0,
        data: {
          latency: { boundsMs: BOUNDS, counts },
          inFlight: 1,
          sheds: 2,
          quota: { "r/acme": { denied: 3 } },
        },
      },
    ],
    mesh_calls: calls,
  };
}

describe("stats model", () => {
  it("sums the instances callers eject now per endpoint, each calling process once", () => {
    const calls = [{ service: "svc", endpoint: "ep", breaker: "closed" as const, ejected: 1 }];
    const replies = [
      reply("a", 1, 0, [1, 0, 0, 0], calls),
      reply("b", 1, 0, [1, 0, 0, 0], calls),
      { ...reply("b", 1, 0, [1, 0, 0, 0], calls), name: "svc2" },
      reply("c", 1, 0, [1, 0, 0, 0], [{ service: "svc", endpoint: "ep", breaker: "closed" }]),
    ];
    const ejections = ejectionsOf(replies);
    assert.deepEqual([...ejections], [["svc/ep", 2]]);
    const [row] = rowsOf(sampleOf(replies), undefined, 0, breakersOf(replies), ejections);
    assert.equal(row?.ejected, 2);
  });

  it("interpolates quantiles inside a bucket and answers the open bucket with the top bound", () => {
    assert.equal(quantile(BOUNDS, [0, 10, 0, 0], 0.5), 5.5);
    assert.equal(quantile(BOUNDS, [10, 0, 0, 0], 0.99), 0.99);
    assert.equal(quantile(BOUNDS, [0, 0, 0, 4], 0.5), 100);
    assert.equal(quantile(BOUNDS, [0, 0, 0, 0], 0.5), null);
  });

  it("sums instances, rates over the interval, and counts each calling process's breaker once", () => {
    const first = [reply("a", 10, 0, [10, 0, 0, 0]), reply("b", 10, 0, [10, 0, 0, 0])];
    const second = [
      reply("a", 20, 1, [10, 10, 0, 0], [{ service: "other", endpoint: "x", breaker: "open" }]),
      reply("b", 30, 1, [10, 10, 10, 0], [{ service: "svc", endpoint: "ep", breaker: "closed" }]),
      // the same process answering for a second service: not counted twice
      {
        ...reply("b", 0, 0, [0, 0, 0, 0], [{ service: "svc", endpoint: "ep", breaker: "closed" }]),
        name: "svc2",
      },
    ];
    const rows = rowsOf(sampleOf(second), sampleOf(first), 2_000, breakersOf(second));
    const ep = rows.find((r) => r.service === "svc" && r.endpoint === "ep");
    assert.ok(ep);
    assert.equal(ep.instances, 2);
    assert.equal(ep.calls, 50);
    assert.equal(ep.callsPerSec, 15);
    assert.equal(ep.window, "interval");
    assert.equal(ep.successRate, 0.9333);
    // the interval's 30 calls: 20 in (1, 10] ms, 10 in (10, 100] ms
    assert.equal(ep.p50Ms, 7.75);
    assert.equal(ep.inFlight, 2);
    assert.equal(ep.sheds, 4);
    assert.equal(ep.quotaDenied, 6);
    assert.deepEqual(ep.breakers, { closed: 1, "half-open": 0, open: 0 });
    const orphan = rows.find((r) => r.service === "other");
    assert.deepEqual(orphan?.breakers, { closed: 0, "half-open": 0, open: 1 });
    assert.equal(orphan?.instances, 0);
  });

  it("falls back to lifetime figures when the interval had no calls", () => {
    const same = [reply("a", 10, 0, [0, 10, 0, 0])];
    const [row] = rowsOf(sampleOf(same), sampleOf(same), 1_000, new Map());
    assert.equal(row?.window, "lifetime");
    assert.equal(row?.callsPerSec, 0);
    assert.equal(row?.p99Ms, 9.91);
  });
});

describe("edges", () => {
  it("sum each caller's requests to a service over its endpoints and instances, with rates", () => {
    const withCallers = (id: string, gateway: number, cli: number): MeshStatsResponse => {
      const r = reply(id, gateway + cli, 0, [gateway + cli, 0, 0, 0]);
      const data = r.endpoints[0]?.data;
      assert.ok(data);
      data.callers = {
        gateway: { requests: gateway, errors: 1, counts: [gateway, 0, 0, 0] },
        "switchyard-cli": { requests: cli, errors: 0, counts: [0, cli, 0, 0] },
      };
      return r;
    };
    const before = edgesOf([withCallers("a", 10, 1), withCallers("b", 10, 0)]);
    const now = edgesOf([withCallers("a", 30, 1), withCallers("b", 20, 0)]);
    const rows = edgeRowsOf(now, before, 1_000);
    assert.deepEqual(
      rows.map((r) => [r.caller, r.service, r.calls, r.callsPerSec, r.window]),
      [
        ["gateway", "svc", 50, 30, "interval"],
        ["switchyard-cli", "svc", 1, 0, "lifetime"],
      ],
    );
    assert.equal(rows[0]?.successRate, 1, "no new errors in the interval");
  });
});

describe("the caller's side of an edge", () => {
  // issue 15: an edge failing at the caller (an open breaker) never shows as 100% success
  const caller = (id: string, name: string, calls: MeshStatsResponse["mesh_calls"]): MeshStatsResponse => ({
    ...reply(id, 0, 0, [0, 0, 0, 0], calls),
    name: `${name}-serves`,
    metadata: { "switchyard.process": name },
  });
  const counts = (n: number) => [n, ...new Array<number>(17).fill(0)];

  it("sets what callers saw beside what the callee measured, failures by code over the interval", () => {
    const callee = (requests: number) => {
      const r = reply("callee", requests, 0, [requests, 0, 0, 0]);
      const data = r.endpoints[0]?.data;
      assert.ok(data);
      data.callers = { gateway: { requests, errors: 0, counts: [requests, 0, 0, 0] } };
      return r;
    };
    const before = [
      callee(10),
      caller("g1", "gateway", [
        { service: "svc", endpoint: "ep", breaker: "closed", calls: 10, failures: {}, counts: counts(10) },
      ]),
    ];
    const failing = () =>
      caller("g1", "gateway", [
        {
          service: "svc",
          endpoint: "ep",
          breaker: "open",
          calls: 30,
          failures: { UNAVAILABLE: 2, CIRCUIT_OPEN: 16 },
          counts: counts(30),
        },
      ]);
    // the second: the same process answering for a second service, counted once
    const now = [callee(12), failing(), failing()];
    const [row] = edgeRowsOf(edgesOf(now), edgesOf(before), 1_000, callerSideOf(now), callerSideOf(before));
    assert.equal(row?.caller, "gateway");
    assert.equal(row?.successRate, 1, "the callee answered every request it got");
    const side = row?.callerSide;
    assert.ok(side);
    assert.equal(side.callsPerSec, 20);
    assert.equal(side.successRate, 0.1, "2 of the interval's 20 calls succeeded");
    assert.deepEqual(side.failures, { UNAVAILABLE: 2, CIRCUIT_OPEN: 16 });
    assert.deepEqual(side.breakers, { closed: 0, "half-open": 0, open: 1 });
    assert.deepEqual(
      side.endpoints.map((e) => [e.endpoint, e.calls, e.errors, e.breakers.open]),
      [["ep", 30, 18, 1]],
    );
  });

  it("shows an edge only its caller reports, and none from a runtime that sends no counts", () => {
    const only = [
      caller("g1", "gateway", [
        {
          service: "gone",
          endpoint: "ep",
          breaker: "open",
          calls: 5,
          failures: { CIRCUIT_OPEN: 5 },
          counts: counts(5),
        },
      ]),
    ];
    const [row] = edgeRowsOf(edgesOf(only), undefined, 0, callerSideOf(only));
    assert.equal(row?.service, "gone");
    assert.equal(row?.successRate, null, "the callee saw nothing");
    assert.equal(row?.callerSide?.successRate, 0);
    assert.equal(row?.callerSide?.window, "lifetime");
    const old = [caller("g1", "gateway", [{ service: "svc", endpoint: "ep", breaker: "closed" }])];
    const [bare] = edgeRowsOf(edgesOf(old), undefined, 0, callerSideOf(old));
    assert.equal(bare?.callerSide?.calls, 0);
    assert.equal(bare?.callerSide?.successRate, null);
  });
});

describe("intervals per instance", () => {
  it("an instance missing from the last sample, or restarted, adds no spike and no negative count", () => {
    const before = sampleOf([reply("a", 10, 0, [10, 0, 0, 0]), reply("b", 500, 0, [500, 0, 0, 0])]);
    // b restarted (counts from zero again); c answers for the first time, with a long lifetime
    const now = sampleOf([
      reply("a", 20, 0, [10, 10, 0, 0]),
      reply("b", 3, 0, [3, 0, 0, 0]),
      reply("c", 9_000, 0, [0, 0, 9_000, 0]),
    ]);
    const [row] = rowsOf(now, before, 1_000, new Map());
    assert.equal(row?.callsPerSec, 10, "only a's ten new calls");
    assert.equal(row?.window, "interval");
    // the interval's latencies are a's ten, all in (1, 10] ms
    assert.ok((row?.p99Ms ?? 0) > 1 && (row?.p99Ms ?? 0) <= 10);
  });
});
