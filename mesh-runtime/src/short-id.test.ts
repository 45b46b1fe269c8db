import assert from "node:assert/strict";
import { test } from "node:test";
import { shortId } from "./short-id.js";

test("a short id is 12 letters and digits, and ids do not repeat", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const id = shortId();
    assert.match(id, /^[0-9A-Za-z]{12}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 10_000);
});
