import type { Msg } from "@nats-io/nats-core";
import {
  Criticality,
  Header,
  isIdempotencyKey,
  isServiceName,
  JSON_CONTENT_TYPE,
  MAX_TENANT_TOKEN_CHARS,
  TENANT_PATTERN,
} from "@switchyard/schemas";
import { MeshError } from "../errors.js";
import { parseRouteHeader } from "../routing/route-header.js";
import type { TraceHeaders } from "../telemetry/trace-context.js";
import { type EncodedHeaders, encodeRequest, headerText } from "./raw-headers.js";
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

const SIGNED_DIGITS = /^-\d{1,10}$/;
const ZERO = 0x30;
const NINE = 0x39;
const MAX_DIGITS = 10;

/**
 * `value` as a whole number when it is 1 to 10 decimal digits, else -1. A loop over
 * the characters, not the regular expression and `Number()`: every request carries one, and a
 * request that arrives after the other processes had the core runs this cold, where the loop in
 * the function's own code costs a fraction of entering the regular expression engine.
 */
function wholeNumber(value: string): number {
  const length = value.length;
  if (length === 0 || length > MAX_DIGITS) return -1;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c < ZERO || c > NINE) return -1;
    n = n * 10 + (c - ZERO);
  }
  return n;
}

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
const PLAIN_READERS: ReadonlyMap<string, HeaderReader> = new Map<string, HeaderReader>([
  [
    "mesh-timeout",
    (meta, value) => {
      // A negative budget is a spent one, not a malformed header.
      const ms = wholeNumber(value);
      if (ms >= 0) meta.timeoutMs = ms;
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
      const n = wholeNumber(value);
      if (n < 1) throw invalid(Header.Attempt, value, "must be a positive integer");
      meta.attempt = n;
    },
  ],
  [
    "idempotency-key",
    (meta, value) => {
      if (!isIdempotencyKey(value))
        throw invalid(Header.IdempotencyKey, value, "must be 1-128 visible ASCII");
      meta.idempotencyKey = value;
    },
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
  ...PLAIN_READERS,
  [
    "mesh-caller",
    (_meta, value) => {
      if (!isServiceName(value)) throw invalid(Header.Caller, value, "is not a service name");
    },
  ],
]);

/** What a request with no mesh headers means: every field at its absent value. */
export function noRequestMeta(): RequestMeta {
  return {
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
}

/**
 * Reads and validates request headers in one pass, case-insensitively. A header sent more than
 * once counts with its first value only, as nats.js's and nats.go's `get()` read it; later values
 * are neither used nor checked. Throws `INVALID_ARGUMENT` naming the header that is wrong. With
 * `vouched` (the broker requires authentication), the caller comes from `Nats-Request-Info`, and
 * a request without a trustworthy one is `UNAUTHENTICATED` (`request-info.ts`).
 */
export function readRequestHeaders(msg: Msg, vouched = false): RequestMeta {
  const meta = noRequestMeta();
  const text = headerText(msg);
  if (!vouched) {
    if (text !== undefined) readHeaderLines(text, READERS, meta);
    return meta;
  }
  if (text !== undefined) readHeaderLines(text, VOUCHED, meta);
  // not the first value, as for other headers: a sender's copy would come before the broker's
  meta.caller = vouchedAccount(brokerRequestInfo(text));
  meta.callerVerified = true;
  return meta;
}

/** A header's reader and its bit in the set of headers already read. */
interface KnownHeader {
  readonly bit: number;
  readonly read: HeaderReader;
}

/** The spellings senders use (schemas' `Header`, and nats-server's for its request info), by lower-cased name. */
const CANONICAL = new Map(
  [...Object.values(Header), "Nats-Request-Info"].map((name) => [name.toLowerCase(), name]),
);

/**
 * The readers with a bit each (names shared by both tables share a bit), under the lower-cased
 * name and under the spelling senders use: a header as the runtime writes it is found without
 * lower-casing its name.
 */
function known(readers: ReadonlyMap<string, HeaderReader>): ReadonlyMap<string, KnownHeader> {
  const names = [...new Set([...PLAIN_READERS.keys(), ...VOUCHED_READERS.keys()])];
  const out = new Map<string, KnownHeader>();
  for (const [name, read] of readers) {
    const header = { bit: 1 << names.indexOf(name), read };
    out.set(name, header);
    const spelled = CANONICAL.get(name);
    if (spelled !== undefined) out.set(spelled, header);
  }
  return out;
}

const READERS = known(PLAIN_READERS);
const VOUCHED = known(VOUCHED_READERS);

/**
 * `forEachHeader` for the headers a request may carry, without a closure or a set per request:
 * each known header is read once, with its first value (later ones are neither used nor checked),
 * its name compared lower-cased, its value trimmed; lines without a colon are ignored.
 */
function readHeaderLines(text: string, readers: ReadonlyMap<string, KnownHeader>, meta: RequestMeta): void {
  let seen = 0;
  let start = text.indexOf("\r\n");
  while (start !== -1) {
    start += 2;
    const end = text.indexOf("\r\n", start);
    const stop = end === -1 ? text.length : end;
    const colon = text.indexOf(":", start);
    if (colon > start && colon < stop) {
      const name = text.slice(start, colon);
      const header = readers.get(name) ?? readers.get(name.trim().toLowerCase());
      if (header !== undefined && (seen & header.bit) === 0) {
        seen |= header.bit;
        header.read(meta, text.slice(colon + 1, stop).trim());
      }
    }
    start = end;
  }
}

/** What every request from one caller for one tenant (and criticality) carries alike. */
export interface FixedOutboundMeta {
  caller: string;
  tenant: string | undefined;
  /** Sent only with the tenant it vouches for. */
  tenantToken?: string | undefined;
  criticality?: Criticality | undefined;
}

/** What changes from one call, or one attempt, to the next. */
export interface AttemptMeta {
  timeoutMs: number;
  attempt: number;
  idempotencyKey: string;
  /** `Mesh-Route`, already formatted by the router. */
  route?: string | undefined;
  /** A mirrored copy (`Mesh-Mirror: 1`). */
  mirror?: boolean | undefined;
  trace: TraceHeaders;
}

/** What an outgoing request carries besides its body. */
export type OutboundMeta = FixedOutboundMeta & AttemptMeta;

/**
 * The header lines every request from one caller for one tenant carries alike, status line
 * included: built once and reused (`CallPipeline` keeps them per tenant), so an attempt writes
 * only the values that vary. Values are produced or validated by the runtime (no CR/LF can reach
 * them), so they are written directly rather than through MsgHdrsImpl, whose per-key
 * canonicalisation shows in profiles.
 */
export function fixedRequestHeaders(meta: FixedOutboundMeta): string {
  let text = `NATS/1.0\r\n${Header.Caller}: ${meta.caller}\r\n`;
  if (meta.tenant !== undefined) text += `${Header.Tenant}: ${meta.tenant}\r\n`;
  // base64url and dots only (minted or verified by a runtime): nothing to escape
  if (meta.tenantToken !== undefined) text += `${Header.TenantToken}: ${meta.tenantToken}\r\n`;
  if (meta.criticality !== undefined) text += `${Header.Criticality}: ${meta.criticality}\r\n`;
  return text;
}

const TIMEOUT_LINE = `${Header.Timeout}: `;
const ATTEMPT_LINE = `\r\n${Header.Attempt}: `;
const KEY_LINE = `\r\n${Header.IdempotencyKey}: `;

/**
 * The whole header block of one attempt: `fixed` (from `fixedRequestHeaders`) and this attempt's
 * values. A first attempt carries no `Mesh-Attempt` (absent means 1, PROTOCOL §3).
 */
export function attemptHeaders(fixed: string, meta: AttemptMeta): string {
  let text = fixed + TIMEOUT_LINE + meta.timeoutMs;
  if (meta.attempt !== 1) text += ATTEMPT_LINE + meta.attempt;
  text += KEY_LINE + meta.idempotencyKey;
  if (meta.route !== undefined) text += `\r\n${Header.Route}: ${meta.route}`;
  if (meta.mirror === true) text += `\r\n${Header.Mirror}: 1`;
  const { traceparent, tracestate, baggage } = meta.trace;
  if (traceparent !== undefined) text += `\r\n${Header.TraceParent}: ${traceparent}`;
  if (tracestate !== undefined) text += `\r\n${Header.TraceState}: ${tracestate}`;
  if (baggage !== undefined) text += `\r\n${Header.Baggage}: ${baggage}`;
  return `${text}\r\n\r\n`;
}

/** Request headers as nats.js publishes them: the fixed lines and the attempt's, encoded. */
export function writeRequestHeaders(meta: OutboundMeta): EncodedHeaders {
  return encodeRequest(attemptHeaders(fixedRequestHeaders(meta), meta), "").headers;
}
