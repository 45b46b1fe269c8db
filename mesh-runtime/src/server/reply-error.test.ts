import assert from "node:assert/strict";
import { test } from "node:test";
import { MeshError } from "../errors.js";
import { markDownstream, toReplyError } from "./reply-error.js";

test("an unknown throw becomes INTERNAL with the original as cause", () => {
  const cause = new TypeError("boom");
  const e = toReplyError(cause);
  assert.equal(e.code, "INTERNAL");
  assert.equal(e.cause, cause);
});

test("a handler's own error passes through unchanged", () => {
  const own = new MeshError("OVERLOADED", "too busy");
  assert.equal(toReplyError(own), own);
});

test("a downstream error keeps its code, blame and Retry-After, but says this handler ran", () => {
  for (const code of ["NO_RESPONDERS", "OVERLOADED", "QUOTA_EXCEEDED", "NOT_FOUND", "CONFLICT"] as const) {
    const original = new MeshError(code, "x", { retryAfterMs: 10, details: { rule: "r" } });
    const e = toReplyError(markDownstream(original));
    assert.equal(e.code, code);
    assert.equal(e.executed, "maybe", code);
    assert.equal(e.blame, original.blame);
    assert.equal(e.retryAfterMs, 10);
    assert.deepEqual(e.details, { rule: "r" });
  }
});

test("a downstream error that already says work may have been done passes through unchanged", () => {
  for (const code of ["DEADLINE_EXCEEDED", "INTERNAL", "UNAVAILABLE"] as const) {
    const e = markDownstream(new MeshError(code, "x"));
    assert.equal(toReplyError(e), e, code);
  }
});

test("a handler's own refusal keeps its promise that nothing ran", () => {
  const own = new MeshError("QUOTA_EXCEEDED", "over", { retryAfterMs: 5 });
  assert.equal(toReplyError(own).executed, "no");
});

test("local-only codes never reach the wire", () => {
  for (const code of ["CIRCUIT_OPEN", "CANCELLED", "RETRY_BUDGET_EXHAUSTED"] as const) {
    assert.equal(toReplyError(new MeshError(code, "x")).code, "UNAVAILABLE");
  }
});
