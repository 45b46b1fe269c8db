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

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LOWER_A = 0x61;
const LOWER_Z = 0x7a;
const CASE_BIT = 0x20;
const PLUS = 0x2b;
const MINUS = 0x2d;

/**
 * The number a received message's subject ends with, in base 36, after a prefix of `chars`
 * characters (`bytes` in UTF-8): `Number.parseInt(msg.subject.slice(chars), 36)` (a sign, then the
 * digits up to the first other character; NaN when there are none), read from nats.js's raw
 * subject bytes (`MsgImpl._msg.subject`, pinned as `headerText`'s internals are) without decoding
 * the subject: a caller reads one per reply, and at one call in flight the decode (a native call,
 * run cold) was most of the ~3 µs this step took. Other messages: through the public API.
 */
export function subjectNumber(msg: Msg, chars: number, bytes: number): number {
  if (!(msg instanceof MsgImpl)) return Number.parseInt(msg.subject.slice(chars), 36);
  const subject = msg._msg.subject;
  let n = Number.NaN;
  // a sign, as parseInt reads one (no token this process writes has one)
  const sign = subject[bytes] === MINUS ? -1 : 1;
  const first = subject[bytes] === MINUS || subject[bytes] === PLUS ? bytes + 1 : bytes;
  for (let i = first; i < subject.length; i++) {
    const c = subject[i] as number;
    let digit: number;
    if (c >= DIGIT_0 && c <= DIGIT_9) digit = c - DIGIT_0;
    else {
      const lower = c | CASE_BIT;
      if (lower < LOWER_A || lower > LOWER_Z) break;
      digit = lower - LOWER_A + 10;
    }
    n = Number.isNaN(n) ? digit : n * 36 + digit;
  }
  return sign * n;
}

/**
 * Whether a received message's subject is `tail` from byte `from` to its end, compared on nats.js's
 * raw subject bytes (as `subjectNumber`) without decoding the subject; undefined for a message
 * built elsewhere, which the caller reads through the public API. `tail` is ASCII.
 */
export function subjectEndsAt(msg: Msg, from: number, tail: string): boolean | undefined {
  if (!(msg instanceof MsgImpl)) return undefined;
  const subject = msg._msg.subject;
  if (subject.length - from !== tail.length) return false;
  for (let i = 0; i < tail.length; i++) if (subject[from + i] !== tail.charCodeAt(i)) return false;
  return true;
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
