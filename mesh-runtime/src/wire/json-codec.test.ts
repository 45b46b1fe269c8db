import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMeshError } from "../errors.js";
import { decodeJson, MAX_JSON_DEPTH } from "./json-codec.js";

const bytes = (text: string) => Buffer.from(text, "utf8");

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return isMeshError(e) ? e.code : "not a MeshError";
  }
}

describe("decodeJson", () => {
  it("refuses nesting past the limit before parsing, whatever the padding", () => {
    const deep = "[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1);
    assert.equal(
      code(() => decodeJson(bytes(deep))),
      "INVALID_ARGUMENT",
    );
    const bomb = "[".repeat(100_000) + "]".repeat(100_000);
    assert.equal(
      code(() => decodeJson(bytes(bomb))),
      "INVALID_ARGUMENT",
    );
  });

  it("takes nesting at the limit, and brackets inside strings do not count", () => {
    const atLimit = "[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH);
    assert.ok(Array.isArray(decodeJson(bytes(atLimit))));
    const text = JSON.stringify({ s: `${"[".repeat(1_000)}\\"{{{` });
    assert.deepEqual(decodeJson(bytes(text)), JSON.parse(text));
  });

  it("refuses invalid UTF-8 and invalid JSON; an empty body is undefined", () => {
    assert.equal(
      code(() => decodeJson(new Uint8Array([0x7b, 0xff, 0x7d]))),
      "INVALID_ARGUMENT",
    );
    assert.equal(
      code(() => decodeJson(bytes("{nope"))),
      "INVALID_ARGUMENT",
    );
    assert.equal(decodeJson(new Uint8Array(0)), undefined);
  });
});
