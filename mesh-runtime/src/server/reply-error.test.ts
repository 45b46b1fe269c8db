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

test("downstream codes that would let our caller repeat a non-idempotent call become UNAVAILABLE", () => {
  for (const code of ["NO_RESPONDERS", "OVERLOADED"] as const) {
    const e = toReplyError(markDownstream(new MeshError(code, "x")));
    assert.equal(e.code, "UNAVAILABLE");
    assert.deepEqual(e.details, { dependencyCode: code });
  }
  const quota = toReplyError(markDownstream(new MeshError("QUOTA_EXCEEDED", "x", { retryAfterMs: 10 })));
  assert.equal(quota.code, "UNAVAILABLE");
});

test("downstream codes that cannot mislead pass through", () => {
  for (const code of ["NOT_FOUND", "DEADLINE_EXCEEDED", "INTERNAL", "CONFLICT"] as const) {
    const e = markDownstream(new MeshError(code, "x"));
    assert.equal(toReplyError(e), e, code);
  }
});

test("local-only codes never reach the wire", () => {
  for (const code of ["CIRCUIT_OPEN", "CANCELLED", "RETRY_BUDGET_EXHAUSTED"] as const) {
    assert.equal(toReplyError(new MeshError(code, "x")).code, "UNAVAILABLE");
  }
});
