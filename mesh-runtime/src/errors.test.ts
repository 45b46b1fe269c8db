import assert from "node:assert/strict";
import { test } from "node:test";
import { isMeshError, MeshError } from "./errors.js";

test("retryable and status come from the code table", () => {
  const e = new MeshError("OVERLOADED", "shed");
  assert.equal(e.retryable, true);
  assert.equal(e.status, 503);
  assert.equal(new MeshError("NOT_FOUND", "x").retryable, false);
  assert.equal(e.name, "MeshError");
  assert.ok(isMeshError(e));
  assert.equal(isMeshError(new Error("x")), false);
});

test("toWire carries code, message and details, never the stack or cause", () => {
  const e = new MeshError("CONFLICT", "busy", { details: { id: 1 }, cause: new Error("secret") });
  assert.deepEqual(e.toWire(), { code: "CONFLICT", message: "busy", details: { id: 1 } });
});
