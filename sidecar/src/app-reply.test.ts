import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMeshError } from "@switchyard/runtime";
import { meshReplyOf } from "./app-reply.js";

const failure = (answer: Parameters<typeof meshReplyOf>[0]) => {
  try {
    meshReplyOf(answer, "svc.ep");
  } catch (error) {
    assert.ok(isMeshError(error));
    return error;
  }
  assert.fail("no error");
};

describe("the app's answer as a mesh reply", () => {
  it("a 2xx body is the output; an empty one is null", () => {
    assert.deepEqual(meshReplyOf({ status: 200, body: '{"a":1}' }, "x"), { a: 1 });
    assert.equal(meshReplyOf({ status: 204, body: "" }, "x"), null);
  });

  it("a 2xx body that is not JSON is INTERNAL", () => {
    assert.equal(failure({ status: 200, body: "<html>" }).code, "INTERNAL");
  });

  it("an error status maps to its code, 5xx to INTERNAL", () => {
    const cases: Array<[number, string]> = [
      [400, "INVALID_ARGUMENT"],
      [401, "UNAUTHENTICATED"],
      [403, "PERMISSION_DENIED"],
      [404, "NOT_FOUND"],
      [409, "CONFLICT"],
      [418, "INVALID_ARGUMENT"],
      [422, "FAILED_PRECONDITION"],
      [429, "QUOTA_EXCEEDED"],
      [500, "INTERNAL"],
      [502, "INTERNAL"],
      [503, "UNAVAILABLE"],
      [504, "DEADLINE_EXCEEDED"],
      [302, "INTERNAL"],
    ];
    for (const [status, code] of cases)
      assert.equal(failure({ status, body: "" }).code, code, `status ${status}`);
  });

  it("a code the body names wins, with its message and details, in either shape", () => {
    const gateway = failure({
      status: 400,
      body: JSON.stringify({
        error: { code: "FAILED_PRECONDITION", message: "card declined", details: { x: 1 } },
      }),
    });
    assert.equal(gateway.code, "FAILED_PRECONDITION");
    assert.equal(gateway.message, "card declined");
    assert.deepEqual(gateway.details, { x: 1 });
    assert.equal(
      failure({ status: 500, body: '{"code":"NOT_FOUND","message":"no such sku"}' }).code,
      "NOT_FOUND",
    );
    // a code this protocol does not know is ignored: the status decides
    assert.equal(failure({ status: 404, body: '{"code":"NOPE"}' }).code, "NOT_FOUND");
  });

  it("Retry-After (s) and Mesh-Retry-After (ms) become retryAfterMs", () => {
    assert.equal(failure({ status: 429, body: "", retryAfter: "2" }).retryAfterMs, 2_000);
    assert.equal(
      failure({ status: 429, body: "", retryAfter: "2", meshRetryAfter: "150" }).retryAfterMs,
      150,
    );
    assert.equal(failure({ status: 429, body: "", retryAfter: "soon" }).retryAfterMs, undefined);
  });

  it("a refusal that promises nothing ran, from an app whose handler ran, may have executed", () => {
    assert.equal(failure({ status: 429, body: "" }).executed, "maybe");
    assert.equal(
      failure({ status: 503, body: '{"error":{"code":"OVERLOADED","message":"x"}}' }).executed,
      "maybe",
    );
    assert.equal(failure({ status: 400, body: "" }).executed, "no");
  });
});
