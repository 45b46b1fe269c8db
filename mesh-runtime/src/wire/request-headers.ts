import type { Msg } from "@nats-io/nats-core";
import {
  Criticality,
  Header,
  IDEMPOTENCY_KEY_PATTERN,
  isServiceName,
  JSON_CONTENT_TYPE,
  MAX_TENANT_TOKEN_CHARS,
  TENANT_PATTERN,
} from "@switchyard/schemas";
import { MeshError } from "../errors.js";
import { parseRouteHeader } from "../routing/route-header.js";
import type { TraceHeaders } from "../telemetry/trace-context.js";
import { EncodedHeaders, forEachHeader, headerText } from "./raw-headers.js";
import { brokerRequestInfo, vouchedAccount } from "./request-info.js";

/** What a request's headers say, validated. */
export interface RequestMeta {
  /** `Mesh-Timeout` in ms; undefined when the sender gave none. */
  timeoutMs: number | undefined;
  /** `Mesh-Tenant`; after the server's tenant step, the tenant the request is served for. */
  tenant: string | undefined;
  /** `Mesh-Tenant-Token`, checked by the server's tenant step. */
  tenantToken: string | undefined;
  /** Set by the server's tenant step: a token signed by a tenant issuer vouched for `tenant`. */
  tenantVerified: boolean;
  /** The calling service: the broker's account when it vouches, else `Mesh-Caller`. */
  caller: string | undefined;
  /** True when the broker vouched for `caller`; false when the sender only asserted it. */
  callerVerified: boolean;
  attempt: number;
  idempotencyKey: string | undefined;
  /** `Mesh-Criticality`; undefined: the policy's level. */
  criticality: Criticality | undefined;
  traceparent: string | undefined;
  tracestate: string | undefined;
  baggage: string | undefined;
  /** `Mesh-Route`, validated: the chain's route headers and pins, passed on by `ctx.call()`. */
  route: string | undefined;
  /** `Mesh-Mirror: 1`: a mirrored copy, whose reply nobody reads. */
  mirrored: boolean;
}

const DIGITS = /^\d{1,10}$/;
const SIGNED_DIGITS = /^-\d{1,10}$/;
const MAX_TRACE_HEADER = 512;

function invalid(header: string, value: string, rule: string): MeshError {
  return new MeshError("INVALID_ARGUMENT", `header ${header} ${rule}`, {
    details: { header, value: value.slice(0, 64) },
  });
}

type HeaderReader = (meta: RequestMeta, value: string) => void;

/** A reader for a header whose value must match `pattern` and is kept as it is. */
function matching(
  header: string,
  pattern: RegExp,
  rule: string,
  keep: (meta: RequestMeta, value: string) => void,
): HeaderReader {
  return (meta, value) => {
    if (!pattern.test(value)) throw invalid(header, value, rule);
    keep(meta, value);
  };
}

/** A trace header longer than `max` is ignored, not refused (PROTOCOL §3). */
function bounded(max: number, keep: (meta: RequestMeta, value: string) => void): HeaderReader {
  return (meta, value) => {
    if (value.length <= max) keep(meta, value);
  };
}

/** One reader per header the runtime knows, by lower-cased name; others are ignored. */
const READERS: ReadonlyMap<string, HeaderReader> = new Map<string, HeaderReader>([
  [
    "mesh-timeout",
    (meta, value) => {
      // A negative budget is a spent one, not a malformed header.
      if (DIGITS.test(value)) meta.timeoutMs = Number(value);
      else if (SIGNED_DIGITS.test(value)) meta.timeoutMs = 0;
      else throw invalid(Header.Timeout, value, "must be whole milliseconds");
    },
  ],
  ["mesh-tenant", matching(Header.Tenant, TENANT_PATTERN, "is not a tenant id", (m, v) => (m.tenant = v))],
  [
    "mesh-tenant-token",
    (meta, value) => {
      if (value.length > MAX_TENANT_TOKEN_CHARS) {
        throw invalid(Header.TenantToken, value, `is longer than ${MAX_TENANT_TOKEN_CHARS} characters`);
      }
      meta.tenantToken = value;
    },
  ],
  [
    "mesh-caller",
    (meta, value) => {
      if (!isServiceName(value)) throw invalid(Header.Caller, value, "is not a service name");
      meta.caller = value;
    },
  ],
  [
    "mesh-attempt",
    (meta, value) => {
      const n = DIGITS.test(value) ? Number(value) : 0;
      if (n < 1) throw invalid(Header.Attempt, value, "must be a positive integer");
      meta.attempt = n;
    },
  ],
  [
    "idempotency-key",
    matching(
      Header.IdempotencyKey,
      IDEMPOTENCY_KEY_PATTERN,
      "must be 1-128 visible ASCII",
      (m, v) => (m.idempotencyKey = v),
    ),
  ],
  [
    "mesh-criticality",
    (meta, value) => {
      const level = Criticality.safeParse(value);
      if (!level.success) throw invalid(Header.Criticality, value, "must be sheddable, default or critical");
      meta.criticality = level.data;
    },
  ],
  [
    "content-type",
    (_meta, value) => {
      // media types are case-insensitive; parameters (charset) are allowed
      const type = value.split(";", 1)[0]?.trim().toLowerCase();
      if (type !== JSON_CONTENT_TYPE) {
        throw invalid(Header.ContentType, value, `must be ${JSON_CONTENT_TYPE}`);
      }
    },
  ],
  [
    "mesh-route",
    (meta, value) => {
      parseRouteHeader(value);
      meta.route = value;
    },
  ],
  [
    "mesh-mirror",
    (meta, value) => {
      if (value !== "1") throw invalid(Header.Mirror, value, "must be 1");
      meta.mirrored = true;
    },
  ],
  ["traceparent", bounded(MAX_TRACE_HEADER, (m, v) => (m.traceparent = v))],
  ["tracestate", bounded(MAX_TRACE_HEADER, (m, v) => (m.tracestate = v))],
  ["baggage", bounded(MAX_TRACE_HEADER * 16, (m, v) => (m.baggage = v))],
]);

/**
 * Under a broker that vouches identity the caller is the account in the broker's
 * `Nats-Request-Info` (`brokerRequestInfo`); `Mesh-Caller` is still checked but only informs.
 * Open brokers never pay for this.
 */
const VOUCHED_READERS: ReadonlyMap<string, HeaderReader> = new Map<string, HeaderReader>([
  ...READERS,
  [
    "mesh-caller",
    (_meta, value) => {
      if (!isServiceName(value)) throw invalid(Header.Caller, value, "is not a service name");
    },
  ],
]);

/**
 * Reads and validates request headers in one pass, case-insensitively. A header sent more than
 * once counts with its first value only, as nats.js's and nats.go's `get()` read it; later values
 * are neither used nor checked. Throws `INVALID_ARGUMENT` naming the header that is wrong. With
 * `vouched` (the broker requires authentication), the caller comes from `Nats-Request-Info`, and
 * a request without a trustworthy one is `UNAUTHENTICATED` (`request-info.ts`).
 */
export function readRequestHeaders(msg: Msg, vouched = false): RequestMeta {
  const meta: RequestMeta = {
    timeoutMs: undefined,
    tenant: undefined,
    tenantToken: undefined,
    tenantVerified: false,
    caller: undefined,
    callerVerified: false,
    attempt: 1,
    idempotencyKey: undefined,
    criticality: undefined,
    traceparent: undefined,
    tracestate: undefined,
    baggage: undefined,
    route: undefined,
    mirrored: false,
  };
  const text = headerText(msg);
  if (!vouched) {
    if (text !== undefined) forEachHeader(text, (name, value) => READERS.get(name)?.(meta, value));
    return meta;
  }
  if (text !== undefined) forEachHeader(text, (name, value) => VOUCHED_READERS.get(name)?.(meta, value));
  // not the first value, as for other headers: a sender's copy would come before the broker's
  meta.caller = vouchedAccount(brokerRequestInfo(text));
  meta.callerVerified = true;
  return meta;
}

/** What an outgoing request carries besides its body. */
export interface OutboundMeta {
  timeoutMs: number;
  attempt: number;
  idempotencyKey: string;
  caller: string;
  tenant: string | undefined;
  /** Sent only with the tenant it vouches for. */
  tenantToken?: string | undefined;
  criticality?: Criticality | undefined;
  /** `Mesh-Route`, already formatted by the router. */
  route?: string | undefined;
  /** A mirrored copy (`Mesh-Mirror: 1`). */
  mirror?: boolean | undefined;
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
  // base64url and dots only (minted or verified by a runtime): nothing to escape
  if (meta.tenantToken !== undefined) text += `${Header.TenantToken}: ${meta.tenantToken}\r\n`;
  if (meta.criticality !== undefined) text += `${Header.Criticality}: ${meta.criticality}\r\n`;
  if (meta.route !== undefined) text += `${Header.Route}: ${meta.route}\r\n`;
  if (meta.mirror === true) text += `${Header.Mirror}: 1\r\n`;
  const { traceparent, tracestate, baggage } = meta.trace;
  if (traceparent !== undefined) text += `${Header.TraceParent}: ${traceparent}\r\n`;
  if (tracestate !== undefined) text += `${Header.TraceState}: ${tracestate}\r\n`;
  if (baggage !== undefined) text += `${Header.Baggage}: ${baggage}\r\n`;
  return new EncodedHeaders(`${text}\r\n`);
}
