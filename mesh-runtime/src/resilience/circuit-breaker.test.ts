import assert from "node:assert/strict";
import { test } from "node:test";
import { type BreakerState, CircuitBreaker } from "./circuit-breaker.js";

function setup() {
  let now = 0;
  const states: BreakerState[] = [];
  const breaker = new CircuitBreaker(
    { failureRatio: 0.5, minimumCalls: 10, windowMs: 10_000, openMs: 1_000, halfOpenProbes: 2 },
    (s) => states.push(s),
    () => now,
  );
  return { breaker, states, advance: (ms: number) => (now += ms) };
}

test("opens at the failure ratio once the minimum volume is reached", () => {
  const { breaker, states } = setup();
  for (let i = 0; i < 9; i++) breaker.record(breaker.acquire() as "pass", true);
  assert.equal(breaker.state, "closed", "below the minimum volume");
  breaker.record(breaker.acquire() as "pass", true);
  assert.equal(breaker.state, "open");
  assert.equal(breaker.acquire(), "reject");
  assert.deepEqual(states, ["open"]);
});

test("successes keep it closed", () => {
  const { breaker } = setup();
  for (let i = 0; i < 100; i++) breaker.record(breaker.acquire() as "pass", i % 3 === 0);
  assert.equal(breaker.state, "closed");
});

test("half-open lets bounded probes through; their successes close it", () => {
  const { breaker, states, advance } = setup();
  for (let i = 0; i < 10; i++) breaker.record("pass", true);
  advance(1_000);
  assert.equal(breaker.acquire(), "probe");
  assert.equal(breaker.acquire(), "probe");
  assert.equal(breaker.acquire(), "reject", "only two probes at once");
  breaker.record("probe", false);
  assert.equal(breaker.state, "half-open");
  breaker.record("probe", false);
  assert.equal(breaker.state, "closed");
  assert.deepEqual(states, ["open", "half-open", "closed"]);
});

test("a failed probe opens it again", () => {
  const { breaker, advance } = setup();
  for (let i = 0; i < 10; i++) breaker.record("pass", true);
  advance(1_000);
  breaker.record(breaker.acquire() as "probe", true);
  assert.equal(breaker.state, "open");
  advance(999);
  assert.equal(breaker.acquire(), "reject");
});

test("old failures leave the window", () => {
  const { breaker, advance } = setup();
  for (let i = 0; i < 9; i++) breaker.record("pass", true);
  advance(11_000);
  breaker.record("pass", true);
  assert.equal(breaker.state, "closed");
});
