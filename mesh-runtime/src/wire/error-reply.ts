import { type Msg, type MsgHdrs, MsgHdrsImpl } from "@nats-io/nats-core";
import { codeForStatus, ErrorBody, ErrorCodes, Header, isErrorCode } from "@switchyard/schemas";
import { MeshError } from "../errors.js";
import { decodeJson, encodeJson } from "./json-codec.js";

const HEADER_UNSAFE = /[\r\n]/g;
const MAX_HEADER_MESSAGE = 256;

// room for the error headers when checking an error reply against max_payload
const HEADER_ROOM = 1_024;
const MAX_FALLBACK_MESSAGE = 1_000;

/**
 * An error reply as it goes on the wire: NATS micro error headers, `Mesh-Error`, JSON body. A body
 * that would not fit `maxBytes` (huge details) is cut to code and message, so the error still
 * arrives.
 */
export function encodeErrorReply(error: MeshError, maxBytes: number): { headers: MsgHdrs; body: Uint8Array } {
  const h = new MsgHdrsImpl();
  const m = h.headers;
  m.set(Header.ServiceError, [
    error.message.replace(HEADER_UNSAFE, " ").slice(0, MAX_HEADER_MESSAGE).trim() || error.code,
  ]);
  m.set(Header.ServiceErrorCode, [String(error.status)]);
  m.set(Header.Error, [error.code]);
  // only when it differs from what the code says: the header is the exception, not the rule
  if (error.executed !== ErrorCodes[error.code].executed) m.set(Header.Executed, [error.executed]);
  if (error.retryAfterMs !== undefined) {
    m.set(Header.RetryAfter, [String(Math.max(0, Math.ceil(error.retryAfterMs)))]);
  }
  let body: Uint8Array | undefined;
  try {
    body = encodeJson(error.toWire());
  } catch {
    // details that do not serialise must not cost the caller its error
  }
  if (body === undefined || body.length + HEADER_ROOM > maxBytes) {
    body = encodeJson({ code: error.code, message: error.message.slice(0, MAX_FALLBACK_MESSAGE) });
  }
  return { headers: h, body };
}

function header(headers: MsgHdrs, lowerName: string): string | undefined {
  for (const [key, values] of headers) {
    if (key.toLowerCase() === lowerName) return values[0];
  }
  return undefined;
}

/** True when a reply carries an error (ours or any NATS micro service's). */
export function isErrorReply(msg: Msg): boolean {
  const h = msg.headers;
  if (h === undefined) return false;
  return header(h, "mesh-error") !== undefined || header(h, "nats-service-error-code") !== undefined;
}

/**
 * Rebuilds the typed error of an error reply. `Mesh-Error` names the code, else the body does;
 * the body's message wins over `Nats-Service-Error`, which is cut to fit a header.
 */
export function decodeErrorReply(msg: Msg): MeshError {
  const h = msg.headers as MsgHdrs;
  const statusText = header(h, "nats-service-error-code");
  const retryText = header(h, "mesh-retry-after");
  const executedText = header(h, "mesh-executed");
  let body: Partial<ErrorBody> = {};
  try {
    const parsed = ErrorBody.safeParse(decodeJson(msg.data));
    if (parsed.success) body = parsed.data;
  } catch {
    // a non-JSON error body: the headers alone describe the error
  }
  return errorFromWire(
    {
      code: header(h, "mesh-error") ?? body.code,
      message: body.message || header(h, "nats-service-error") || "",
      details: body.details,
    },
    {
      status: statusText !== undefined && /^\d{3}$/.test(statusText) ? Number(statusText) : 500,
      retryAfterMs: retryText !== undefined && /^\d{1,10}$/.test(retryText) ? Number(retryText) : undefined,
      executed: executedText === "maybe" ? "maybe" : undefined,
    },
  );
}

/** Where a wire error came from besides its body: the reply's status and `Mesh-Retry-After`. */
export interface WireErrorMeta {
  /** `Nats-Service-Error-Code`; 500 when there is none. */
  readonly status: number;
  readonly retryAfterMs: number | undefined;
  /** `Mesh-Executed`: "maybe" when the callee ran although the code says it did not. */
  readonly executed?: "maybe" | undefined;
}

/**
 * The one way a wire error becomes a `MeshError` (error replies, and replies kept for replay).
 * Unknown codes (a later protocol version, a plain NATS micro service) map by status and keep the
 * original in `details.remoteCode`; so do local-only codes, which never cross the wire.
 */
export function errorFromWire(
  body: { readonly code?: string | undefined; readonly message: string; readonly details?: unknown },
  { status, retryAfterMs, executed }: WireErrorMeta,
): MeshError {
  const known = isErrorCode(body.code) && ErrorCodes[body.code].wire ? body.code : undefined;
  const code = known ?? codeForStatus(status);
  const details =
    known === undefined && body.code !== undefined
      ? { remoteCode: body.code, remoteDetails: body.details }
      : body.details;
  return new MeshError(code, body.message || code, {
    ...(details === undefined ? {} : { details }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(executed === undefined ? {} : { executed }),
  });
}
