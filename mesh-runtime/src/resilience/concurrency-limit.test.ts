import assert from "node:assert/strict";
import { test } from "node:test";
import { ConcurrencyLimit } from "./concurrency-limit.js";

test("a fixed limit sheds past it and frees slots on release", () => {
  const l = new ConcurrencyLimit({ mode: "fixed", limit: 2, minLimit: 1, maxLimit: 10 });
  assert.ok(l.tryAcquire());
  assert.ok(l.tryAcquire());
  assert.equal(l.tryAcquire(), false);
  l.release(5, true);
  assert.ok(l.tryAcquire());
  assert.equal(l.limit, 2);
});

test("the adaptive limit settles near the knee of a callee whose latency rises past it", () => {
  // latency is 10 ms up to 20 in flight, then grows in proportion: the knee is 20
  const knee = 20;
  const l = new ConcurrencyLimit({ mode: "adaptive", limit: 5, minLimit: 1, maxLimit: 500 });
  for (let i = 0; i < 20_500; i++) {
    // a saturating load: as many in flight as the limit allows
    while (l.tryAcquire()) {}
    const inFlight = l.inFlight;
    const rtt = 10 * Math.max(1, inFlight / knee);
    l.release(rtt, true);
  }
  assert.ok(l.limit >= knee && l.limit <= knee * 2, `limit ${l.limit}`);
});
