import type { Msg } from "@nats-io/nats-core";
import {
  Header,
  IDEMPOTENCY_KEY_PATTERN,
  isServiceName,
  JSON_CONTENT_TYPE,
  TENANT_PATTERN,
} from "@switchyard/schemas";
import { MeshError } from "../errors.js";
import type { TraceHeaders } from "../telemetry/trace-context.js";
import { EncodedHeaders, forEachHeader, headerText } from "./raw-headers.js";

/** What a request's headers say, validated. */
export interface RequestMeta {
  /** `Mesh-Timeout` in ms; undefined when the sender gave none. */
  timeoutMs: number | undefined;
  tenant: string | undefined;
  caller: string | undefined;
  attempt: number;
  idempotencyKey: string | undefined;
  traceparent: string | undefined;
  tracestate: string | undefined;
  baggage: string | undefined;
}

const DIGITS = /^\d{1,10}$/;
const SIGNED_DIGITS = /^-\d{1,10}$/;
const MAX_TRACE_HEADER = 512;

function invalid(header: string, value: string, rule: string): MeshError {
  return new MeshError("INVALID_ARGUMENT", `header ${header} ${rule}`, {
    details: { header, value: value.slice(0, 64) },
  });
}

/**
 * Reads and validates request headers in one pass, case-insensitively. Throws
 * `INVALID_ARGUMENT` naming the header that is wrong.
 */
export function readRequestHeaders(msg: Msg): RequestMeta {
  const meta: RequestMeta = {
    timeoutMs: undefined,
    tenant: undefined,
    caller: undefined,
    attempt: 1,
    idempotencyKey: undefined,
    traceparent: undefined,
    tracestate: undefined,
    baggage: undefined,
  };
  const text = headerText(msg);
  if (text === undefined) return meta;
  forEachHeader(text, (name, value) => {
    switch (name) {
      case "mesh-timeout":
        // A negative budget is a spent one, not a malformed header.
        if (DIGITS.test(value)) meta.timeoutMs = Number(value);
        else if (SIGNED_DIGITS.test(value)) meta.timeoutMs = 0;
        else throw invalid(Header.Timeout, value, "must be whole milliseconds");
        break;
      case "mesh-tenant":
        if (!TENANT_PATTERN.test(value)) throw invalid(Header.Tenant, value, "is not a tenant id");
        meta.tenant = value;
        break;
      case "mesh-caller":
        if (!isServiceName(value)) throw invalid(Header.Caller, value, "is not a service name");
        meta.caller = value;
        break;
      case "mesh-attempt": {
        const n = DIGITS.test(value) ? Number(value) : 0;
        if (n < 1) throw invalid(Header.Attempt, value, "must be a positive integer");
        meta.attempt = n;
        break;
      }
      case "idempotency-key":
        if (!IDEMPOTENCY_KEY_PATTERN.test(value))
          throw invalid(Header.IdempotencyKey, value, "must be 1-128 visible ASCII");
        meta.idempotencyKey = value;
        break;
      case "content-type": {
        // media types are case-insensitive; parameters (charset) are allowed
        const type = value.split(";", 1)[0]?.trim().toLowerCase();
        if (type !== JSON_CONTENT_TYPE) {
          throw invalid(Header.ContentType, value, `must be ${JSON_CONTENT_TYPE}`);
        }
        break;
      }
      case "traceparent":
        if (value.length <= MAX_TRACE_HEADER) meta.traceparent = value;
        break;
      case "tracestate":
        if (value.length <= MAX_TRACE_HEADER) meta.tracestate = value;
        break;
      case "baggage":
        if (value.length <= MAX_TRACE_HEADER * 16) meta.baggage = value;
        break;
    }
  });
  return meta;
}

/** What an outgoing request carries besides its body. */
export interface OutboundMeta {
  timeoutMs: number;
  attempt: number;
  idempotencyKey: string;
  caller: string;
  tenant: string | undefined;
  trace: TraceHeaders;
}

/**
 * Builds request headers as the wire text nats.js sends. Values are produced or validated by the
 * runtime (no CR/LF can reach them), so they are written directly rather than through MsgHdrsImpl,
 * whose per-key canonicalisation shows in profiles.
 */
export function writeRequestHeaders(meta: OutboundMeta): EncodedHeaders {
  let text = `NATS/1.0\r\n${Header.Timeout}: ${meta.timeoutMs}\r\n${Header.Attempt}: ${meta.attempt}\r\n${Header.IdempotencyKey}: ${meta.idempotencyKey}\r\n${Header.Caller}: ${meta.caller}\r\n`;
  if (meta.tenant !== undefined) text += `${Header.Tenant}: ${meta.tenant}\r\n`;
  const { traceparent, tracestate, baggage } = meta.trace;
  if (traceparent !== undefined) text += `${Header.TraceParent}: ${traceparent}\r\n`;
  if (tracestate !== undefined) text += `${Header.TraceState}: ${tracestate}\r\n`;
  if (baggage !== undefined) text += `${Header.Baggage}: ${baggage}\r\n`;
  return new EncodedHeaders(`${text}\r\n`);
}
