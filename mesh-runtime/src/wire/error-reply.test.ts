import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Msg, type MsgHdrs, MsgHdrsImpl } from "@nats-io/nats-core";
import { type ErrorCode, ErrorCodes, Header } from "@switchyard/schemas";
import { MeshError } from "../errors.js";
import { decodeErrorReply, encodeErrorReply, errorFromWire, isErrorReply } from "./error-reply.js";

const MAX = 1024 * 1024;

/** A received reply as the client pipeline sees it: only headers and data are read. */
function received(headers: MsgHdrs | undefined, data: Uint8Array): Msg {
  return { headers, data } as unknown as Msg;
}

function headersOf(entries: ReadonlyArray<readonly [string, readonly string[]]>): MsgHdrs {
  const h = new MsgHdrsImpl();
  for (const [name, values] of entries) h.headers.set(name, [...values]);
  return h;
}

const bytes = (text: string) => Buffer.from(text, "utf8");
const wireCodes = (Object.keys(ErrorCodes) as ErrorCode[]).filter((c) => ErrorCodes[c].wire);
const localCodes = (Object.keys(ErrorCodes) as ErrorCode[]).filter((c) => !ErrorCodes[c].wire);

describe("error replies", () => {
  it("every wire code survives encode then decode, with message, details and retry-after", () => {
    for (const code of wireCodes) {
      const sent = new MeshError(code, `failed with ${code}`, {
        details: { code, n: [1] },
        retryAfterMs: 250,
      });
      const { headers, body } = encodeErrorReply(sent, MAX);
      const msg = received(headers, body);
      assert.ok(isErrorReply(msg), code);
      const got = decodeErrorReply(msg);
      assert.equal(got.code, code);
      assert.equal(got.message, sent.message);
      assert.deepEqual(got.details, sent.details);
      assert.equal(got.retryAfterMs, 250);
      assert.equal(headers.get(Header.ServiceErrorCode), String(ErrorCodes[code].status));
    }
  });

  it("Mesh-Executed travels only when a code's promise that nothing ran no longer holds", () => {
    for (const code of wireCodes) {
      for (const executed of ["no", "maybe"] as const) {
        const sent = new MeshError(code, "x", { executed });
        const { headers, body } = encodeErrorReply(sent, MAX);
        const got = decodeErrorReply(received(headers, body));
        assert.equal(got.executed, sent.executed, `${code} ${executed}`);
        const header = headers.get(Header.Executed);
        assert.equal(
          header,
          sent.executed === ErrorCodes[code].executed ? "" : "maybe",
          `${code} ${executed}`,
        );
      }
    }
    // a sender cannot promise less than its code does: "no" on a maybe code is not read
    const forged = headersOf([
      [Header.Error, ["INTERNAL"]],
      [Header.Executed, ["no"]],
    ]);
    assert.equal(decodeErrorReply(received(forged, bytes("{}"))).executed, "maybe");
  });

  it("a body too large for max_payload is cut to code and message, and still decodes", () => {
    const sent = new MeshError("INVALID_ARGUMENT", "too much", { details: { blob: "x".repeat(5_000) } });
    const { headers, body } = encodeErrorReply(sent, 2_048);
    const got = decodeErrorReply(received(headers, body));
    assert.equal(got.code, "INVALID_ARGUMENT");
    assert.equal(got.message, "too much");
    assert.equal(got.details, undefined);
  });

  it("details that do not serialise cost only the details", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    const { headers, body } = encodeErrorReply(new MeshError("CONFLICT", "busy", { details: cyclic }), MAX);
    const got = decodeErrorReply(received(headers, body));
    assert.equal(got.code, "CONFLICT");
    assert.equal(got.details, undefined);
  });

  it("a header message never carries a line break", () => {
    const { headers } = encodeErrorReply(new MeshError("INTERNAL", "one\r\ntwo"), MAX);
    assert.equal(headers.get(Header.ServiceError), "one  two");
  });

  it("malformed bodies fall back to the headers", () => {
    const h = headersOf([
      [Header.ServiceError, ["from the header"]],
      [Header.ServiceErrorCode, ["404"]],
    ]);
    for (const body of ["", "not json", "[1,2]", '{"code":3}', '{"message":"no code"}', "\u00ff"]) {
      const got = decodeErrorReply(received(h, bytes(body)));
      assert.equal(got.code, "NOT_FOUND", body);
      assert.equal(got.message, "from the header", body);
    }
  });

  it("with neither code nor status, a reply is INTERNAL named by its code", () => {
    const got = decodeErrorReply(received(headersOf([[Header.Error, ["SOMETHING_NEW"]]]), bytes("")));
    assert.equal(got.code, "INTERNAL");
    assert.equal(got.message, "INTERNAL");
    assert.deepEqual(got.details, { remoteCode: "SOMETHING_NEW", remoteDetails: undefined });
  });

  it("a bad status or retry-after header is ignored, not trusted", () => {
    const h = headersOf([
      [Header.Error, ["QUOTA_EXCEEDED"]],
      [Header.ServiceErrorCode, ["4290"]],
      [Header.RetryAfter, ["-5"]],
    ]);
    const got = decodeErrorReply(received(h, bytes("")));
    assert.equal(got.code, "QUOTA_EXCEEDED");
    assert.equal(got.retryAfterMs, undefined);
  });

  it("Mesh-Error wins over the body's code, and the first value of a header wins", () => {
    const h = headersOf([
      [Header.Error, ["NOT_FOUND", "CONFLICT"]],
      [Header.ServiceErrorCode, ["404"]],
      [Header.RetryAfter, ["10", "20"]],
    ]);
    const got = decodeErrorReply(received(h, bytes('{"code":"CONFLICT","message":"body message"}')));
    assert.equal(got.code, "NOT_FOUND");
    assert.equal(got.message, "body message");
    assert.equal(got.retryAfterMs, 10);
  });

  it("header names are read case-insensitively", () => {
    const h = headersOf([
      ["mesh-error", ["CONFLICT"]],
      ["NATS-SERVICE-ERROR-CODE", ["409"]],
    ]);
    const msg = received(h, bytes(""));
    assert.ok(isErrorReply(msg));
    assert.equal(decodeErrorReply(msg).code, "CONFLICT");
  });

  it("a plain NATS micro error maps by status and keeps nothing it does not know", () => {
    const h = headersOf([
      [Header.ServiceError, ["out of stock"]],
      [Header.ServiceErrorCode, ["503"]],
    ]);
    const got = decodeErrorReply(received(h, bytes("")));
    assert.equal(got.code, "UNAVAILABLE");
    assert.equal(got.message, "out of stock");
  });

  it("a reply without error headers is not an error", () => {
    assert.equal(isErrorReply(received(undefined, bytes("{}"))), false);
    assert.equal(
      isErrorReply(received(headersOf([["Content-Type", ["application/json"]]]), bytes("{}"))),
      false,
    );
  });
});

describe("errorFromWire", () => {
  it("local-only codes are treated as unknown: mapped by status, the original kept", () => {
    for (const code of localCodes) {
      const got = errorFromWire(
        { code, message: "m", details: { a: 1 } },
        { status: 503, retryAfterMs: undefined },
      );
      assert.equal(got.code, "UNAVAILABLE", code);
      assert.deepEqual(got.details, { remoteCode: code, remoteDetails: { a: 1 } });
    }
  });

  it("an empty message becomes the code", () => {
    const got = errorFromWire({ code: "CONFLICT", message: "" }, { status: 409, retryAfterMs: 5 });
    assert.equal(got.message, "CONFLICT");
    assert.equal(got.retryAfterMs, 5);
  });
});
