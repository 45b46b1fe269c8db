import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_SLICE_BYTES, MIN_SLICE_BYTES, sliceBytes } from "./write-slices.js";

describe("sliceBytes", () => {
  it("is half the bytes of the requests in flight", () => {
    assert.equal(sliceBytes(64, 260), 8_320);
    assert.equal(sliceBytes(100, 200), 10_000);
  });

  it("a burst whose half is under the minimum is not sliced: nats.js's own threshold", () => {
    assert.equal(sliceBytes(1, 260), MAX_SLICE_BYTES);
    assert.equal(sliceBytes(16, 260), MAX_SLICE_BYTES);
    assert.equal(sliceBytes(0, 0), MAX_SLICE_BYTES);
    assert.equal(sliceBytes(2, MIN_SLICE_BYTES), MIN_SLICE_BYTES);
  });

  it("never above nats.js's own threshold: a large burst is written as nats.js would", () => {
    assert.equal(sliceBytes(256, 260), MAX_SLICE_BYTES);
    assert.equal(sliceBytes(10_000, 1_000_000), MAX_SLICE_BYTES);
  });
});
