import assert from "node:assert/strict";
import { test } from "node:test";
import { MeshError } from "../errors.js";
import { mayRetry } from "./retry-decision.js";

test("nobody-received and shed codes retry even when not idempotent", () => {
  assert.ok(mayRetry(new MeshError("NO_RESPONDERS", "x"), false, true));
  assert.ok(mayRetry(new MeshError("OVERLOADED", "x"), false, true));
});

test("codes that may have executed retry only when idempotent", () => {
  for (const code of ["DEADLINE_EXCEEDED", "INTERNAL", "UNAVAILABLE"] as const) {
    assert.equal(mayRetry(new MeshError(code, "x"), false, true), false, code);
    assert.ok(mayRetry(new MeshError(code, "x"), true, true), code);
  }
});

test("a refusal passed on by a handler that ran is retried only when idempotent", () => {
  for (const code of ["NO_RESPONDERS", "OVERLOADED"] as const) {
    const passedOn = new MeshError(code, "x", { executed: "maybe" });
    assert.equal(mayRetry(passedOn, false, true), false, code);
    assert.ok(mayRetry(passedOn, true, true), code);
  }
});

test("a request that was never sent may always be retried when the code allows it", () => {
  assert.ok(mayRetry(new MeshError("UNAVAILABLE", "x"), false, false));
});

test("after-delay codes need a retry-after", () => {
  assert.equal(mayRetry(new MeshError("QUOTA_EXCEEDED", "x"), true, true), false);
  assert.ok(mayRetry(new MeshError("QUOTA_EXCEEDED", "x", { retryAfterMs: 100 }), false, true));
});

test("client errors and local-only codes never retry", () => {
  for (const code of ["INVALID_ARGUMENT", "NOT_FOUND", "PERMISSION_DENIED", "CIRCUIT_OPEN"] as const) {
    assert.equal(mayRetry(new MeshError(code, "x"), true, false), false, code);
  }
});
