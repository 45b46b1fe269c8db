import assert from "node:assert/strict";
import { test } from "node:test";
import { ejectionAllowance, type OutlierSettings, OutlierState } from "./outlier-ejection.js";

const settings: OutlierSettings = {
  enabled: true,
  failureRatio: 0.5,
  minimumCalls: 10,
  windowMs: 10_000,
  ejectMs: 1_000,
  maxEjectedShare: 0.5,
};

function setup() {
  let now = 0;
  const state = new OutlierState(settings.windowMs, () => now);
  return { state, advance: (ms: number) => (now += ms) };
}

test("ejects at the failure ratio once the minimum volume is reached", () => {
  const { state } = setup();
  let verdicts: boolean[] = [];
  for (let i = 0; i < 9; i++) verdicts.push(state.record(i % 2 === 0, settings));
  assert.deepEqual(new Set(verdicts), new Set([false]), "below the minimum volume");
  verdicts = [state.record(true, settings)];
  assert.deepEqual(verdicts, [true]);
});

test("a healthy instance, or a disabled detector, never asks for an ejection", () => {
  const { state } = setup();
  for (let i = 0; i < 100; i++) assert.equal(state.record(i % 4 === 0, settings), false);
  const off = { ...settings, enabled: false };
  for (let i = 0; i < 100; i++) assert.equal(state.record(true, off), false);
});

test("an ejection lasts ejectMs, then the instance is readmitted with a clean window", () => {
  const { state, advance } = setup();
  for (let i = 0; i < 10; i++) state.record(true, settings);
  assert.equal(state.eject(settings), 1_000);
  assert.equal(state.ejected, true);
  advance(999);
  assert.equal(state.ejected, true);
  advance(1);
  assert.equal(state.ejected, false);
  assert.equal(state.record(true, settings), false, "the failures that ejected it are forgotten");
});

test("failures after an ejection ran out eject again, though nobody asked whether it was ejected", () => {
  const { state, advance } = setup();
  for (let i = 0; i < 10; i++) state.record(true, settings);
  state.eject(settings);
  advance(1_000);
  const verdicts: boolean[] = [];
  for (let i = 0; i < 10; i++) verdicts.push(state.record(true, settings));
  assert.equal(verdicts.at(-1), true);
  assert.equal(verdicts.indexOf(true), 9, "counted from an empty window: ten calls again");
});

test("ejections in a row last longer, up to ten times; a long healthy spell forgives them", () => {
  const { state, advance } = setup();
  const lengths: number[] = [];
  for (let n = 0; n < 12; n++) {
    lengths.push(state.eject(settings));
    advance(lengths[n] as number);
    assert.equal(state.ejected, false);
  }
  assert.deepEqual(lengths.slice(0, 3), [1_000, 2_000, 3_000]);
  assert.equal(lengths[11], 10_000);
  advance(10 * settings.windowMs + 1);
  assert.equal(state.eject(settings), 1_000);
});

test("at most the share of instances, at least one of two or more, never the last one", () => {
  assert.equal(ejectionAllowance(1, 1), 0);
  assert.equal(ejectionAllowance(2, 0.1), 1);
  assert.equal(ejectionAllowance(3, 0.5), 1);
  assert.equal(ejectionAllowance(10, 0.5), 5);
  assert.equal(ejectionAllowance(4, 1), 3);
});
