import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Msg } from "@nats-io/nats-core";
import { MsgHdrsImpl, MsgImpl } from "@nats-io/nats-core/internal";
import { IDEMPOTENCY_KEY_PATTERN, MAX_NAME_LENGTH, NAME_PATTERN } from "@switchyard/schemas";
import { isMeshError } from "../errors.js";
import {
  attemptHeaders,
  fixedRequestHeaders,
  readRequestHeaders,
  writeRequestHeaders,
} from "./request-headers.js";

/** A NATS header block holding `lines`. */
function block(lines: string[]): Uint8Array {
  return Buffer.from(`NATS/1.0\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n`, "utf8");
}

/** A received message as nats.js's parser hands it over: the raw header block, no body. */
function fromBlock(raw: Uint8Array): Msg {
  const arg = {
    subject: Buffer.from("mesh.svc.a.b"),
    reply: Buffer.from("_INBOX.x"),
    sid: 1,
    hdr: raw.length,
    size: raw.length,
  };
  return new MsgImpl(arg, raw, { publish() {} });
}

function received(lines: string[]): Msg {
  return fromBlock(block(lines));
}

/** The same headers through nats.js's public API (a message built by another client library). */
function parsed(lines: string[]): Msg {
  return { headers: MsgHdrsImpl.decode(block(lines)) } as unknown as Msg;
}

function refusal(msg: Msg, vouched = false): unknown {
  try {
    readRequestHeaders(msg, vouched);
    return undefined;
  } catch (e) {
    return isMeshError(e) ? { code: e.code, details: e.details } : "not a MeshError";
  }
}

for (const [label, make] of [
  ["raw header block", received],
  ["parsed headers", parsed],
] as const) {
  describe(`readRequestHeaders (${label})`, () => {
    it("reads every known header, names case-insensitively", () => {
      const meta = readRequestHeaders(
        make([
          "MESH-TIMEOUT: 250",
          "mesh-tenant: acme",
          "MESH-TENANT-TOKEN: v1.e30.c2ln",
          "Mesh-Caller: orders",
          "mesh-attempt: 2",
          "idempotency-key: k-1",
          "mesh-criticality: sheddable",
          "Content-Type: Application/JSON; charset=utf-8",
          "TraceParent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
          "tracestate: a=1",
          "baggage: b=2",
          "MESH-ROUTE: canary=1,@payments=2",
          "mesh-mirror: 1",
        ]),
      );
      assert.deepEqual(meta, {
        timeoutMs: 250,
        tenant: "acme",
        tenantToken: "v1.e30.c2ln",
        tenantVerified: false,
        caller: "orders",
        callerVerified: false,
        attempt: 2,
        idempotencyKey: "k-1",
        criticality: "sheddable",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate: "a=1",
        baggage: "b=2",
        route: "canary=1,@payments=2",
        mirrored: true,
      });
    });

    it("keeps the first value of a repeated header, as nats.js get() does (PROTOCOL §3)", () => {
      const lines = ["Mesh-Tenant: first", "Mesh-Timeout: 100", "mesh-tenant: second", "Mesh-Timeout: 900"];
      const meta = readRequestHeaders(make(lines));
      assert.equal(meta.tenant, "first");
      assert.equal(meta.timeoutMs, 100);
      assert.equal(MsgHdrsImpl.decode(block(lines)).get("Mesh-Tenant"), meta.tenant);
    });

    it("neither uses nor checks a repeated header's later values", () => {
      const meta = readRequestHeaders(
        make(["Mesh-Attempt: 3", "Mesh-Attempt: zero", "Mesh-Caller: a", "Mesh-Caller: a b"]),
      );
      assert.equal(meta.attempt, 3);
      assert.equal(meta.caller, "a");
    });

    it("refuses a malformed first value, naming the header", () => {
      assert.deepEqual(refusal(make(["Mesh-Timeout: soon", "Mesh-Timeout: 100"])), {
        code: "INVALID_ARGUMENT",
        details: { header: "Mesh-Timeout", value: "soon" },
      });
      assert.deepEqual(refusal(make(["Mesh-Tenant: no spaces"])), {
        code: "INVALID_ARGUMENT",
        details: { header: "Mesh-Tenant", value: "no spaces" },
      });
      assert.deepEqual(refusal(make(["Content-Type: text/plain"])), {
        code: "INVALID_ARGUMENT",
        details: { header: "Content-Type", value: "text/plain" },
      });
    });

    // the three headers every request carries are checked by loops, not schemas' patterns: the
    // verdicts and values must be the patterns' for every kind of character and length
    it("checks Mesh-Timeout, Mesh-Attempt, Mesh-Caller and Idempotency-Key as schemas' patterns do", () => {
      const samples = [
        "0",
        "7",
        "0042",
        "1234567890",
        "12345678901",
        "9999999999",
        "-1",
        "+1",
        "1.5",
        "1e3",
        "１２",
        "orders",
        "Order_Svc-2",
        "a b",
        "a.b",
        "a/b",
        "@x",
        "[x]",
        "`x",
        "{x}",
        "é",
        "x".repeat(128),
        "x".repeat(129),
        "k!~#",
        "\x7f",
        "\x20x",
        "tab\tx",
        "ключ",
      ];
      const digits = /^\d{1,10}$/;
      for (const value of samples) {
        // a value is read trimmed
        const v = value.trim();
        const timeout = refusal(make([`Mesh-Timeout: ${value}`]));
        const spent = /^-\d{1,10}$/.test(v);
        assert.equal(timeout === undefined, digits.test(v) || spent, `Mesh-Timeout: ${value}`);
        if (digits.test(v))
          assert.equal(readRequestHeaders(make([`Mesh-Timeout: ${value}`])).timeoutMs, Number(v));
        const attempt = refusal(make([`Mesh-Attempt: ${value}`]));
        assert.equal(attempt === undefined, digits.test(v) && Number(v) >= 1, `Mesh-Attempt: ${value}`);
        const caller = refusal(make([`Mesh-Caller: ${value}`]));
        assert.equal(
          caller === undefined,
          v.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(v),
          `Mesh-Caller: ${value}`,
        );
        const key = refusal(make([`Idempotency-Key: ${value}`]));
        assert.equal(key === undefined, IDEMPOTENCY_KEY_PATTERN.test(v), `Idempotency-Key: ${value}`);
      }
    });

    it("reads a negative budget as spent and ignores oversized trace headers and unknown ones", () => {
      const meta = readRequestHeaders(
        make(["Mesh-Timeout: -5", `traceparent: ${"x".repeat(513)}`, "X-Other: 1"]),
      );
      assert.equal(meta.timeoutMs, 0);
      assert.equal(meta.traceparent, undefined);
      assert.equal(meta.attempt, 1);
    });

    // issue 14: under a broker that vouches identity, the caller is the account it wrote
    const info = (fields: Record<string, unknown>) =>
      `Nats-Request-Info: ${JSON.stringify({ start: "2026-01-01T00:00:00Z", host: "127.0.0.1", id: 9, ...fields, rtt: 1000, kind: "Client" })}`;

    it("takes the caller from Nats-Request-Info under a vouching broker, whatever Mesh-Caller says", () => {
      const meta = readRequestHeaders(
        make(["Mesh-Caller: payments", "Mesh-Timeout: 100", info({ acc: "gateway", user: "gateway" })]),
        true,
      );
      assert.equal(meta.caller, "gateway");
      assert.equal(meta.callerVerified, true);
      assert.equal(meta.timeoutMs, 100);
    });

    it("ignores Nats-Request-Info on an open broker: the caller is asserted", () => {
      const meta = readRequestHeaders(make(["Mesh-Caller: payments", info({ acc: "gateway" })]));
      assert.equal(meta.caller, "payments");
      assert.equal(meta.callerVerified, false);
    });

    it("refuses with UNAUTHENTICATED what the broker did not vouch for", () => {
      const unauthenticated = { code: "UNAUTHENTICATED", details: { header: "Nats-Request-Info" } };
      // a reply bounced into an import arrives with no info, or with the server's `svc` added
      assert.deepEqual(refusal(make(["Mesh-Caller: gateway"]), true), unauthenticated);
      assert.deepEqual(refusal(make([info({ acc: "gateway", svc: "orders" })]), true), unauthenticated);
      assert.deepEqual(refusal(make(["Nats-Request-Info: {not json"]), true), unauthenticated);
      assert.deepEqual(refusal(make(["Nats-Request-Info: [1]"]), true), unauthenticated);
      assert.deepEqual(refusal(make([info({ user: "gateway" })]), true), unauthenticated);
      assert.deepEqual(refusal(make([info({ acc: "$G" })]), true), unauthenticated);
      assert.deepEqual(
        refusal(make([info({ acc: "gateway", name: "x".repeat(5_000) })]), true),
        unauthenticated,
      );
    });

    it("still checks Mesh-Caller's syntax under a vouching broker", () => {
      assert.deepEqual(refusal(make(["Mesh-Caller: a b", info({ acc: "gateway" })]), true), {
        code: "INVALID_ARGUMENT",
        details: { header: "Mesh-Caller", value: "a b" },
      });
    });
  });
}

describe("Mesh-Tenant-Token", () => {
  it("a token longer than the limit is refused as INVALID_ARGUMENT naming the header", () => {
    const outcome = refusal(received([`Mesh-Tenant-Token: v1.${"A".repeat(2_000)}.b`]));
    assert.deepEqual((outcome as { code: string }).code, "INVALID_ARGUMENT");
    assert.equal(
      ((outcome as { details: { header: string } }).details as { header: string }).header,
      "Mesh-Tenant-Token",
    );
  });
});

describe("writeRequestHeaders", () => {
  it("writes what readRequestHeaders reads back", () => {
    const encoded = writeRequestHeaders({
      timeoutMs: 500,
      attempt: 1,
      idempotencyKey: "key",
      caller: "cli",
      tenant: "acme",
      tenantToken: "v1.e30.c2ln",
      criticality: "critical",
      trace: {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate: undefined,
        baggage: undefined,
      },
    }).encode();
    const msg = fromBlock(encoded);
    assert.deepEqual(readRequestHeaders(msg), {
      timeoutMs: 500,
      tenant: "acme",
      tenantToken: "v1.e30.c2ln",
      tenantVerified: false,
      caller: "cli",
      callerVerified: false,
      attempt: 1,
      idempotencyKey: "key",
      criticality: "critical",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      tracestate: undefined,
      baggage: undefined,
      route: undefined,
      mirrored: false,
    });
  });
});

describe("attemptHeaders", () => {
  const fixed = fixedRequestHeaders({ caller: "cli", tenant: undefined });
  const attempt = (n: number) =>
    attemptHeaders(fixed, { timeoutMs: 900, attempt: n, idempotencyKey: "k1", trace: {} });

  it("a first attempt carries no Mesh-Attempt (absent means 1)", () => {
    assert.doesNotMatch(attempt(1), /Mesh-Attempt/);
    assert.equal(readRequestHeaders(fromBlock(Buffer.from(attempt(1)))).attempt, 1);
  });

  it("a retry carries its number", () => {
    assert.match(attempt(2), /\r\nMesh-Attempt: 2\r\n/);
    assert.equal(readRequestHeaders(fromBlock(Buffer.from(attempt(3)))).attempt, 3);
  });

  it("reuses the fixed lines as they are and ends the block", () => {
    assert.ok(attempt(1).startsWith(fixed));
    assert.ok(attempt(1).endsWith("\r\n\r\n"));
  });
});
