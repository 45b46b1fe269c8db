import { MeshError } from "../errors.js";

// fatal: invalid UTF-8 is an error, not silently replaced characters.
const decoder = new TextDecoder("utf-8", { fatal: true });

/** JSON-encodes a body. `undefined` (a void handler) travels as an empty body. */
export function encodeJson(value: unknown): Uint8Array {
  if (value === undefined) return EMPTY;
  // Buffer.from is several times faster than TextEncoder for short strings
  return Buffer.from(JSON.stringify(value), "utf8");
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
