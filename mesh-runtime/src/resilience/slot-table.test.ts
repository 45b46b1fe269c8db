import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SlotTable } from "./slot-table.js";

describe("SlotTable", () => {
  it("holds items under their handles until deleted", () => {
    const table = new SlotTable<string>();
    const a = table.add("a");
    const b = table.add("b");
    assert.notEqual(a, b);
    assert.equal(table.size, 2);
    assert.equal(table.get(a), "a");
    assert.equal(table.get(b), "b");
    assert.equal(table.delete(a), true);
    assert.equal(table.get(a), undefined);
    assert.equal(table.delete(a), false, "a second delete finds nothing");
    assert.equal(table.size, 1);
  });

  it("never lets a stale handle find the next occupant of its slot", () => {
    const table = new SlotTable<string>();
    const first = table.add("first");
    table.delete(first);
    const second = table.add("second");
    assert.notEqual(second, first, "the slot is reused under a new handle");
    assert.equal(table.get(first), undefined);
    assert.equal(table.delete(first), false);
    assert.equal(table.get(second), "second");
  });

  it("finds nothing under handles it never gave out", () => {
    const table = new SlotTable<string>();
    table.add("x");
    assert.equal(table.get(-1), undefined);
    assert.equal(table.delete(-1), false);
    assert.equal(table.get(12345), undefined);
    assert.equal(table.size, 1);
  });

  it("visits every item held, and only those", () => {
    const table = new SlotTable<number>();
    const handles = Array.from({ length: 10 }, (_, i) => table.add(i));
    for (const h of handles.filter((_, i) => i % 3 === 0)) table.delete(h);
    const seen: number[] = [];
    table.forEach((n) => {
      seen.push(n);
    });
    assert.deepEqual(
      seen.sort((x, y) => x - y),
      [1, 2, 4, 5, 7, 8],
    );
  });

  it("keeps handles unique across many reuses of few slots", () => {
    const table = new SlotTable<number>();
    const given = new Set<number>();
    const live: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const h = table.add(i);
      assert.equal(given.has(h), false);
      given.add(h);
      live.push(h);
      if (live.length > 4) table.delete(live.shift() as number);
    }
    assert.equal(table.size, 4);
  });
});
