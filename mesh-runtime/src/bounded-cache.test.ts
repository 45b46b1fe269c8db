import assert from "node:assert/strict";
import { test } from "node:test";
import { BoundedCache } from "./bounded-cache.js";

test("a bounded cache never holds more than its bound and forgets the oldest entry first", () => {
  const cache = new BoundedCache<string, number>(3);
  for (const [i, k] of ["a", "b", "c", "d"].entries()) cache.set(k, i);
  assert.equal(cache.size, 3);
  assert.equal(cache.has("a"), false);
  assert.deepEqual(
    [...cache.entries()],
    [
      ["b", 1],
      ["c", 2],
      ["d", 3],
    ],
  );
});

test("replacing an entry of a full cache evicts nothing", () => {
  const cache = new BoundedCache<string, number>(2);
  cache.set("a", 1).set("b", 2).set("a", 3);
  assert.deepEqual([...cache.entries()].sort(), [
    ["a", 3],
    ["b", 2],
  ]);
});

test("getOrCreate makes an entry once and keeps it", () => {
  const cache = new BoundedCache<string, { n: number }>(10);
  let made = 0;
  const make = () => ({ n: ++made });
  const first = cache.getOrCreate("k", make);
  assert.equal(cache.getOrCreate("k", make), first);
  assert.equal(made, 1);
});

test("a bound below one is refused", () => {
  assert.throws(() => new BoundedCache(0), RangeError);
});
