import assert from "node:assert/strict";
import { test } from "node:test";
import { allowance, gcra } from "./gcra.js";

const fiftyPerSecondBurstTen = { intervalUs: 20_000, depth: 10 };

test("an idle bucket admits the burst at once, then one token per interval", () => {
  let tat: number | undefined;
  let admitted = 0;
  for (let i = 0; i < 30; i++) {
    const d = gcra(tat, 0, 1, fiftyPerSecondBurstTen);
    if (d.allowed) admitted++;
    tat = d.tat;
  }
  assert.equal(admitted, 10);
  const later = gcra(tat, 20_000, 1, fiftyPerSecondBurstTen);
  assert.ok(later.allowed);
  assert.equal(gcra(later.tat, 20_000, 1, fiftyPerSecondBurstTen).allowed, false);
});

test("a saturating caller gets exactly the allowance", () => {
  let tat: number | undefined;
  let admitted = 0;
  for (let now = 0; now <= 3_000_000; now += 1_000) {
    const d = gcra(tat, now, 1, fiftyPerSecondBurstTen);
    if (d.allowed) admitted++;
    tat = d.tat;
  }
  assert.equal(admitted, allowance(3_000_000, fiftyPerSecondBurstTen));
});

test("a denial says when to come back and what remains", () => {
  const full = gcra(undefined, 0, 10, fiftyPerSecondBurstTen);
  assert.ok(full.allowed);
  assert.equal(full.remaining, 0);
  const denied = gcra(full.tat, 5_000, 1, fiftyPerSecondBurstTen);
  assert.equal(denied.allowed, false);
  assert.equal(denied.retryAfterUs, 15_000);
  assert.equal(denied.tat, full.tat);
  const fresh = gcra(undefined, 0, 3, fiftyPerSecondBurstTen);
  assert.equal(fresh.remaining, 7);
});

test("a cost above the depth is never admitted", () => {
  assert.equal(gcra(undefined, 0, 11, fiftyPerSecondBurstTen).allowed, false);
});
