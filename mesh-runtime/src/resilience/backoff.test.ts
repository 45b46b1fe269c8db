import assert from "node:assert/strict";
import { test } from "node:test";
import { fullJitterDelayMs } from "./backoff.js";

test("the ceiling doubles per retry and stops at maxMs", () => {
  const top = () => 0.999999;
  assert.ok(fullJitterDelayMs(1, 10, 1000, top) < 10);
  assert.ok(fullJitterDelayMs(2, 10, 1000, top) > 19.9);
  assert.ok(fullJitterDelayMs(3, 10, 1000, top) > 39.9);
  assert.ok(fullJitterDelayMs(20, 10, 1000, top) <= 1000);
  assert.ok(fullJitterDelayMs(20, 10, 1000, top) > 999);
});

test("full jitter spans zero to the ceiling", () => {
  assert.equal(
    fullJitterDelayMs(4, 10, 1000, () => 0),
    0,
  );
  assert.equal(
    fullJitterDelayMs(4, 10, 1000, () => 0.5),
    40,
  );
});
