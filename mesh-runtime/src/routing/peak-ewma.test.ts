import assert from "node:assert/strict";
import { test } from "node:test";
import { decay, PeakEwma } from "./peak-ewma.js";

test("a slower sample is believed at once; faster ones are blended in over time", () => {
  const e = new PeakEwma(0, 10_000);
  e.start();
  e.end(0, 10);
  assert.equal(e.latencyMs(0), 10);
  e.start();
  e.end(0, 200);
  assert.equal(e.latencyMs(0), 200, "the peak replaces the average");
  e.start();
  e.end(1_000, 10);
  const after = e.latencyMs(1_000);
  assert.ok(after < 200 && after > 150, `one fast sample a second later moves it a little: ${after}`);
});

test("steady samples converge to their value, without a bias from the idle decay", () => {
  const e = new PeakEwma(0, 1_000);
  let now = 0;
  e.start();
  e.end(now, 100);
  for (let i = 0; i < 2_000; i++) {
    now += 10;
    e.start();
    e.end(now, 20);
  }
  assert.ok(Math.abs(e.latencyMs(now) - 20) < 0.5, `${e.latencyMs(now)}`);
});

test("the average decays toward zero while the instance is not measured, so it gets probed again", () => {
  const e = new PeakEwma(0, 1_000);
  e.start();
  e.end(0, 200);
  assert.ok(e.latencyMs(5_000) < 200 * Math.exp(-4), "five decay periods later it is nearly forgotten");
});

test("cost weighs latency by the requests in flight", () => {
  const e = new PeakEwma(0);
  e.start();
  e.end(0, 10);
  assert.equal(e.cost(0), 10);
  e.start();
  e.start();
  assert.equal(e.inFlight, 2);
  assert.equal(e.cost(0), 30);
});

test("an unmeasured instance is free until one request is in flight, then costs more than any measured one", () => {
  const e = new PeakEwma(0);
  assert.equal(e.cost(0), 0);
  e.start();
  assert.ok(e.cost(0) > 100_000);
  e.end(0, undefined);
  assert.equal(e.inFlight, 0);
  assert.equal(e.cost(0), 0, "an end without a sample changes only the count");
});

test("decay is e^-x to 1e-10 of the value: the series below 1/64 of a period, Math.exp above", () => {
  for (let i = 0; i <= 4_000; i++) {
    const x = i < 2_000 ? i / 100_000 : (i - 2_000) / 200;
    const exact = Math.exp(-x);
    assert.ok(Math.abs(decay(x) - exact) <= 1e-10 * exact, `x = ${x}: ${decay(x)} against ${exact}`);
  }
  assert.equal(decay(0), 1);
});
