import type { Msg } from "@nats-io/nats-core";
import { MsgImpl } from "@nats-io/nats-core/internal";
import { utf8Bytes } from "./json-codec.js";

const decoder = new TextDecoder();

/**
 * The header block of a received message as text ("NATS/1.0\r\nKey: value\r\n..."), or undefined
 * when it has none. `msg.headers` would build a MsgHdrsImpl, canonicalising and validating every
 * key: ~5 µs a request in the bench's profile. nats.js's internal entry keeps the raw block on
 * MsgImpl; anything else falls back to the public API.
 */
export function headerText(msg: Msg): string | undefined {
  if (msg instanceof MsgImpl) {
    const length = msg._msg.hdr;
    return length > 0 ? decoder.decode(msg._rdata.subarray(0, length)) : undefined;
  }
  const headers = msg.headers;
  if (headers === undefined) return undefined;
  let text = "NATS/1.0\r\n";
  for (const [key, values] of headers) for (const value of values) text += `${key}: ${value}\r\n`;
  return text;
}

/**
 * Calls `visit` once per header, in order, with its lower-cased name and its first trimmed value:
 * a repeated header's later values are skipped, so the value read is the one nats.js's and
 * nats.go's `get()` return. The status line is skipped; lines without a colon are ignored, as
 * nats.js does.
 */
export function forEachHeader(text: string, visit: (lowerName: string, value: string) => void): void {
  const seen = new Set<string>();
  let start = text.indexOf("\r\n");
  while (start !== -1) {
    start += 2;
    const end = text.indexOf("\r\n", start);
    const line = end === -1 ? text.slice(start) : text.slice(start, end);
    const colon = line.indexOf(":");
    if (colon > 0) {
      const name = line.slice(0, colon).trim().toLowerCase();
      if (!seen.has(name)) {
        seen.add(name);
        visit(name, line.slice(colon + 1).trim());
      }
    }
    start = end;
  }
}

/** A request's header block as bytes, for nats.js's publish, which only ever calls `encode()` on it. */
export class EncodedHeaders {
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  encode(): Uint8Array {
    return this.#bytes;
  }
}

/** One attempt's message: its header block and body, each a view of the shared slab when short. */
export interface EncodedRequest {
  readonly headers: EncodedHeaders;
  readonly payload: Uint8Array;
}

/**
 * Encodes a header block and a JSON body, each with one UTF-8 encode into a shared slab when
 * short (`utf8Bytes`): the texts are not joined first (a copy of both, and a third view), as
 * nats.js takes them as two arrays and copies both into its outbound buffer.
 */
export function encodeRequest(headerText: string, json: string): EncodedRequest {
  return { headers: new EncodedHeaders(utf8Bytes(headerText)), payload: utf8Bytes(json) };
}
