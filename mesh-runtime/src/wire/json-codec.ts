import { MeshError } from "../errors.js";

// fatal: invalid UTF-8 is an error, not silently replaced characters.
const decoder = new TextDecoder("utf-8", { fatal: true });

/** JSON-encodes a body. `undefined` (a void handler) travels as an empty body. */
export function encodeJson(value: unknown): Uint8Array {
  if (value === undefined) return EMPTY;
  // Buffer.from is several times faster than TextEncoder for short strings
  return Buffer.from(JSON.stringify(value), "utf8");
}

/** Decodes a JSON body; an empty body is `undefined`. Throws `INVALID_ARGUMENT` otherwise. */
export function decodeJson(data: Uint8Array): unknown {
  if (data.length === 0) return undefined;
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
