import assert from "node:assert/strict";
import { test } from "node:test";
import { RetryBudget } from "./retry-budget.js";

function fakeClock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test("with no traffic only the per-second floor is available", () => {
  const clock = fakeClock();
  const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 1, windowMs: 10_000 }, clock.now);
  let granted = 0;
  for (let i = 0; i < 100; i++) if (budget.tryRetry()) granted++;
  assert.equal(granted, 10);
});

test("retries track a share of requests", () => {
  const clock = fakeClock();
  const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 0, windowMs: 10_000 }, clock.now);
  for (let i = 0; i < 1000; i++) budget.recordRequest();
  let granted = 0;
  for (let i = 0; i < 1000; i++) if (budget.tryRetry()) granted++;
  assert.equal(granted, 200);
});

test("the window slides: old requests and retries stop counting", () => {
  const clock = fakeClock(5_000);
  const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0, windowMs: 1_000 }, clock.now);
  for (let i = 0; i < 10; i++) budget.recordRequest();
  for (let i = 0; i < 5; i++) assert.ok(budget.tryRetry());
  assert.equal(budget.tryRetry(), false);
  clock.advance(1_500);
  assert.equal(budget.tryRetry(), false, "requests left the window too");
  for (let i = 0; i < 4; i++) budget.recordRequest();
  assert.ok(budget.tryRetry());
  assert.ok(budget.tryRetry());
  assert.equal(budget.tryRetry(), false);
});
