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

test("at the limit, a tenant within its fair share is admitted and the one above it is shed", () => {
  const l = new ConcurrencyLimit({ mode: "fixed", limit: 10, minLimit: 1, maxLimit: 10 });
  for (let i = 0; i < 10; i++) assert.ok(l.tryAcquire("a"));
  assert.equal(l.tryAcquire("a"), false, "a holds the whole limit: its next request is shed");
  // b's fair share is half the limit: admitted above the limit up to it
  for (let i = 0; i < 3; i++) assert.ok(l.tryAcquire("b"), `b's request ${i + 1}`);
  assert.equal(l.tryAcquire("b"), false, "the hard cap (limit + 25%) holds");
  assert.equal(l.tryAcquire("a"), false);
  // as a's requests end, a gets no slot back while it is above its share and the total at the limit
  l.release(1, true, "a");
  l.release(1, true, "a");
  l.release(1, true, "a");
  assert.equal(l.inFlight, 10);
  assert.equal(l.tryAcquire("a"), false);
  assert.ok(l.tryAcquire("b"));
  assert.ok(l.tryAcquire("b"));
  assert.equal(l.tryAcquire("b"), false, "b at its share (5) with the total above the limit");
  assert.equal(l.inFlightOf("a"), 7);
  assert.equal(l.inFlightOf("b"), 5);
});

test("shares follow weights", () => {
  const l = new ConcurrencyLimit({ mode: "fixed", limit: 12, minLimit: 1, maxLimit: 12 });
  for (let i = 0; i < 12; i++) assert.ok(l.tryAcquire("a", 1));
  // with weights 1 and 3, b's share is 9 of 12: admitted past the limit up to the hard cap (15)
  for (let i = 0; i < 3; i++) assert.ok(l.tryAcquire("b", 3));
  assert.equal(l.tryAcquire("b", 3), false);
  for (let i = 0; i < 9; i++) l.release(1, true, "a");
  // total 6: below the limit anyone is admitted
  for (let i = 0; i < 6; i++) assert.ok(l.tryAcquire("b", 3));
  assert.equal(l.inFlightOf("b"), 9);
  assert.equal(l.tryAcquire("b", 3), false, "b at its weighted share, the total at the limit");
  assert.equal(l.tryAcquire("a", 1), false, "a at its share (3)");
});

test("the least critical go first: sheddable above 80%, default above the limit, critical in a reserve", () => {
  const l = new ConcurrencyLimit({ mode: "fixed", limit: 10, minLimit: 1, maxLimit: 10 });
  for (let i = 0; i < 8; i++) assert.ok(l.tryAcquire("a", 1, "sheddable"));
  assert.equal(l.tryAcquire("a", 1, "sheddable"), false);
  assert.equal(l.tryAcquire("b", 1, "sheddable"), false, "sheddable requests get no fair-share room");
  assert.ok(l.tryAcquire("a", 1, "default"));
  assert.ok(l.tryAcquire("a", 1, "default"));
  assert.equal(l.tryAcquire("a", 1, "default"), false);
  assert.ok(l.tryAcquire("a", 1, "critical"), "critical requests have a reserve past the limit");
  assert.equal(l.tryAcquire("a", 1, "critical"), false, "the reserve is 10% of the limit");
  assert.equal(l.inFlight, 11);
});

test("an anonymous caller alone keeps the plain limit", () => {
  const l = new ConcurrencyLimit({ mode: "fixed", limit: 3, minLimit: 1, maxLimit: 3 });
  for (let i = 0; i < 3; i++) assert.ok(l.tryAcquire());
  assert.equal(l.tryAcquire(), false);
  for (let i = 0; i < 3; i++) l.release(1, true);
  assert.equal(l.inFlight, 0);
  assert.equal(l.inFlightOf(""), 0);
});
