import { MeshError } from "../errors.js";

// fatal: invalid UTF-8 is an error, not silently replaced characters.
const decoder = new TextDecoder("utf-8", { fatal: true });

/** JSON-encodes a body. `undefined` (a void handler) travels as an empty body. */
export function encodeJson(value: unknown): Uint8Array {
  if (value === undefined) return EMPTY;
  return utf8Bytes(JSON.stringify(value));
}

// Short texts are written into a shared slab, a fresh one when it is full, never over bytes
// handed out: nats.js keeps what it is given until it flushes. Buffer.from does the same with
// an 8 KiB pool, whose refills (an ArrayBuffer each) cost ~0.4 µs per 100-byte body.
const SLAB_BYTES = 64 * 1024;
const SLAB_MAX_CHARS = 2_048;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabAt = 0;

/** The UTF-8 bytes of `text`, a view of a shared slab when it is short. */
export function utf8Bytes(text: string): Uint8Array {
  if (text.length > SLAB_MAX_CHARS) return Buffer.from(text, "utf8");
  // a UTF-16 code unit is at most 3 UTF-8 bytes
  if (slabAt + text.length * 3 > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabAt = 0;
  }
  const start = slabAt;
  slabAt += slab.write(text, start);
  // a plain view: Buffer's subarray makes a Buffer through the species lookup, at twice the cost
  return new Uint8Array(slab.buffer, slab.byteOffset + start, slabAt - start);
}

/**
 * A body as JSON text, encoded later together with its headers (`encodeRequest`); `undefined`
 * is the empty body. Throws what `JSON.stringify` throws (a cycle, a BigInt), and a TypeError
 * for a value JSON has no text for (a function).
 */
export function jsonText(value: unknown): string {
  if (value === undefined) return "";
  const text: string | undefined = JSON.stringify(value);
  // a function or a symbol: JSON has no text for it, and sending nothing would hide that
  if (text === undefined) throw new TypeError(`a ${typeof value} is not JSON`);
  return text;
}

/** UTF-8 bytes of `text`, measured only when its length alone cannot settle `limit`. */
export function exceedsBytes(text: string, limit: number): number | undefined {
  // a UTF-16 code unit is at most 3 UTF-8 bytes
  if (text.length * 3 <= limit) return undefined;
  const bytes = Buffer.byteLength(text, "utf8");
  return bytes > limit ? bytes : undefined;
}

/** Deepest nesting of arrays and objects a body may have. */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * The nesting depth of a JSON text, by one pass over its bytes (brackets inside strings do not
 * count). Parsing a bomb is cheap for V8, but what the handler then does with it (recursion,
 * `JSON.stringify`) is not: it is refused before it is parsed.
 */
function tooDeep(data: Uint8Array): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) depth--;
  }
  return false;
}

/**
 * Decodes a JSON body; an empty body is `undefined`. Throws `INVALID_ARGUMENT` for invalid UTF-8,
 * invalid JSON, or nesting deeper than `MAX_JSON_DEPTH`.
 */
export function decodeJson(data: Uint8Array): unknown {
  if (data.length === 0) return undefined;
  // a body shorter than twice the limit cannot nest past it
  if (data.length > 2 * MAX_JSON_DEPTH && tooDeep(data)) {
    throw new MeshError("INVALID_ARGUMENT", `body nests deeper than ${MAX_JSON_DEPTH} levels`, {
      details: { maxDepth: MAX_JSON_DEPTH },
    });
  }
  let text: string;
  try {
    text = decoder.decode(data);
  } catch (cause) {
    throw new MeshError("INVALID_ARGUMENT", "body is not valid UTF-8", { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new MeshError("INVALID_ARGUMENT", "body is not valid JSON", {
      cause,
      details: { reason: cause instanceof Error ? cause.message : String(cause) },
    });
  }
}

export const EMPTY = new Uint8Array(0);
