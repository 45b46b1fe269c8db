import assert from "node:assert/strict";
import { test } from "node:test";
import { pickOfTwo } from "./p2c.js";

test("no candidate gives undefined, one gives it", () => {
  assert.equal(
    pickOfTwo([], () => 0),
    undefined,
  );
  assert.equal(
    pickOfTwo(["a"], () => 0),
    "a",
  );
});

test("always the cheaper of two distinct candidates", () => {
  const cost = new Map([
    ["a", 1],
    ["b", 2],
  ]);
  for (const r of [0, 0.3, 0.5, 0.7, 0.99]) {
    assert.equal(
      pickOfTwo(
        ["a", "b"],
        (c) => cost.get(c) ?? 0,
        0,
        () => r,
      ),
      "a",
    );
  }
});

test("the costliest of many is never picked; the cheapest wins every pair it is in", () => {
  const items = [5, 1, 9, 3];
  const seen = new Map<number, number>();
  let seed = 1;
  // a small deterministic generator: the test must not depend on Math.random
  const random = () => {
    seed = (seed * 16_807) % 2_147_483_647;
    return (seed - 1) / 2_147_483_646;
  };
  for (let i = 0; i < 4_000; i++) {
    const p = pickOfTwo(items, (n) => n, 0, random) as number;
    seen.set(p, (seen.get(p) ?? 0) + 1);
  }
  assert.equal(seen.get(9), undefined);
  // 1 is in half of all pairs (3 of 6) and wins each
  assert.ok(Math.abs((seen.get(1) ?? 0) / 4_000 - 0.5) < 0.05);
});

test("ties are broken at random, not always the first", () => {
  const draws = [0, 0.9, 0.2, 0, 0.9, 0.7];
  let i = 0;
  const random = () => draws[i++] as number;
  const first = pickOfTwo(["a", "b"], () => 1, 0, random);
  const second = pickOfTwo(["a", "b"], () => 1, 0, random);
  assert.notEqual(first, second);
});
