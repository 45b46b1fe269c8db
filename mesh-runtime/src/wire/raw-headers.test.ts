import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, sep } from "node:path";
import { describe, it } from "node:test";
import type { Msg } from "@nats-io/nats-core";
import { MsgImpl } from "@nats-io/nats-core/internal";
import { encodeRequest, headerText, subjectEndsAt, subjectNumber } from "./raw-headers.js";

const BLOCK = "NATS/1.0\r\nMesh-Timeout: 250\r\n\r\n";

describe("headerText reads nats.js's raw header block", () => {
  // headerText reads MsgImpl's `_rdata` and `_msg.hdr`, which nats.js does not promise: the
  // runtime pins the exact version (mesh-runtime/package.json), and these fail when either moves
  it("the pinned nats.js version is the one installed", () => {
    const pinned = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      dependencies: Record<string, string>;
    };
    // nats-core exports no ./package.json: its entry point's folder holds it
    const entry = createRequire(import.meta.url).resolve("@nats-io/nats-core");
    const installed = JSON.parse(
      readFileSync(join(entry.slice(0, entry.lastIndexOf(`${sep}lib${sep}`)), "package.json"), "utf8"),
    ) as { version: string };
    assert.equal(pinned.dependencies["@nats-io/nats-core"], installed.version);
  });

  it("MsgImpl keeps the raw block where the runtime reads it", () => {
    const raw = Buffer.from(`${BLOCK}{}`);
    const arg = {
      subject: Buffer.from("a"),
      reply: Buffer.from("b"),
      sid: 1,
      hdr: BLOCK.length,
      size: raw.length,
    };
    const msg = new MsgImpl(arg, raw, { publish() {} });
    assert.ok(msg._rdata instanceof Uint8Array, "MsgImpl._rdata holds the received bytes");
    assert.equal(msg._msg.hdr, BLOCK.length, "MsgImpl._msg.hdr is the header block's length");
    assert.equal(headerText(msg), BLOCK);
    // and the public API agrees with what was read raw
    assert.equal(msg.headers?.get("Mesh-Timeout"), "250");
  });

  it("a message from elsewhere is read through the public API", () => {
    const raw = Buffer.from(BLOCK);
    const arg = {
      subject: Buffer.from("a"),
      reply: Buffer.from("b"),
      sid: 1,
      hdr: raw.length,
      size: raw.length,
    };
    const headers = new MsgImpl(arg, raw, { publish() {} }).headers;
    assert.equal(headerText({ headers } as unknown as Msg), BLOCK.slice(0, -2));
  });
});

/** A received message with `subject` and no headers or body, as nats.js's parser makes it. */
const received = (subject: string) =>
  new MsgImpl(
    { subject: Buffer.from(subject), reply: Buffer.from("r"), sid: 1, hdr: -1, size: 0 },
    new Uint8Array(0),
    { publish() {} },
  );

describe("subjectNumber reads a reply's token from nats.js's raw subject", () => {
  it("MsgImpl keeps the raw subject where it reads it", () => {
    const msg = received("_INBOX.k.z9");
    assert.ok(msg._msg.subject instanceof Uint8Array, "MsgImpl._msg.subject holds the subject's bytes");
    assert.equal(subjectNumber(msg, 9, 9), 35 * 36 + 9);
  });

  it("agrees with parseInt(subject.slice(prefix), 36), raw or through the public API", () => {
    for (const prefix of ["_INBOX.k.", "é.ü.", ""]) {
      const bytes = Buffer.byteLength(prefix);
      for (const token of [
        "0",
        "9",
        "a",
        "z",
        "A",
        "Z",
        "10",
        "zz",
        "3f7",
        "12x!",
        "1.2",
        "!",
        "",
        "-5",
        "_",
      ]) {
        const subject = prefix + token;
        const expected = Number.parseInt(token, 36);
        assert.deepEqual(subjectNumber(received(subject), prefix.length, bytes), expected, subject);
        const elsewhere = { subject } as unknown as Msg;
        assert.deepEqual(subjectNumber(elsewhere, prefix.length, bytes), expected, `${subject} (public API)`);
      }
    }
  });
});

describe("subjectEndsAt compares a subject's tail on nats.js's raw bytes", () => {
  it("is true only for the whole tail, as subject.slice(from) === tail", () => {
    const at = "mesh.svc.orders.".length;
    for (const subject of [
      "mesh.svc.orders.place",
      "mesh.svc.orders.placed",
      "mesh.svc.orders.plac",
      "mesh.svc.orders.Place",
    ]) {
      for (const tail of ["place", "placed", "plac", ""]) {
        assert.equal(
          subjectEndsAt(received(subject), at, tail),
          subject.slice(at) === tail,
          `${subject} / ${tail}`,
        );
      }
    }
  });

  it("leaves a message built elsewhere to the public API", () => {
    assert.equal(subjectEndsAt({ subject: "a.b" } as unknown as Msg, 2, "b"), undefined);
  });
});

describe("encodeRequest", () => {
  it("encodes headers and body, each into its own view", () => {
    const { headers, payload } = encodeRequest(BLOCK, '{"a":1}');
    assert.equal(Buffer.from(headers.encode()).toString(), BLOCK);
    assert.equal(Buffer.from(payload).toString(), '{"a":1}');
  });

  it("encodes a header value and a body that are not ASCII", () => {
    const block = "NATS/1.0\r\nbaggage: k=é\r\n\r\n";
    const { headers, payload } = encodeRequest(block, '"ü"');
    assert.equal(Buffer.from(headers.encode()).toString(), block);
    assert.equal(Buffer.from(payload).toString(), '"ü"');
  });

  it("an empty body is an empty payload", () => {
    assert.equal(encodeRequest(BLOCK, "").payload.length, 0);
  });
});
