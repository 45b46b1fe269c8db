import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMeshError } from "@switchyard/runtime";
import { readCallHeaders } from "./call-headers.js";

const refused = (headers: Record<string, string | string[]>) =>
  assert.throws(
    () => readCallHeaders(headers),
    (e: unknown) => isMeshError(e) && e.code === "INVALID_ARGUMENT",
  );

describe("a call out's HTTP headers", () => {
  it("become the runtime's call options", () => {
    const h = readCallHeaders({
      "mesh-timeout": "1500",
      "mesh-tenant": "acme",
      "idempotency-key": "k-1",
      "mesh-criticality": "critical",
      "mesh-idempotent": "true",
      "mesh-request-id": "r-1",
      "mesh-tenant-token": "v1.a.b",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      tracestate: "a=b",
    });
    assert.deepEqual(h.options, {
      timeoutMs: 1500,
      tenant: "acme",
      idempotencyKey: "k-1",
      criticality: "critical",
      idempotent: true,
    });
    assert.equal(h.requestId, "r-1");
    assert.equal(h.tenantToken, "v1.a.b");
    assert.deepEqual(h.trace, {
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      tracestate: "a=b",
    });
  });

  it("none is no options", () => {
    assert.deepEqual(readCallHeaders({}).options, {});
  });

  it("a malformed timeout, idempotent flag or repeated header is INVALID_ARGUMENT", () => {
    for (const timeout of ["0", "-1", "1.5", "soon", "300001", ""]) refused({ "mesh-timeout": timeout });
    refused({ "mesh-idempotent": "yes" });
    refused({ "mesh-request-id": ["a", "b"] });
  });
});
