import type { Msg, MsgHdrs } from "@nats-io/nats-core";
import { ROOT_CONTEXT, type Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import { isExpectedRefusal, MeshError } from "../errors.js";
import { monotonicNow } from "../resilience/clock.js";
import type { RepeatedLines } from "../telemetry/repeated-lines.js";
import { traceFields } from "../telemetry/telemetry.js";
import { encodeErrorReply } from "../wire/error-reply.js";
import type { RequestMeta } from "../wire/request-headers.js";
import { toReplyError } from "./reply-error.js";
import type { ServedEndpoint } from "./served-endpoint.js";
import type { ServedRequest, Validated } from "./served-request.js";

/** What a span says of a request whose headers could not be read: no tenant, no caller. */
const UNREAD = { tenant: undefined, caller: undefined, callerVerified: false, attempt: 1 } as const;

/**
 * The reply of a request that got through every step; `recordSuccess` records it (counters, span,
 * access log) once the reply is on its way.
 */
export function replySucceeded(r: Validated, body: Uint8Array): void {
  const { host } = r;
  if (body.length > host.maxPayload()) {
    // the handler ran, so this is not the caller's PAYLOAD_TOO_LARGE: the service broke its limit
    throw new MeshError("INTERNAL", `the reply (${body.length} bytes) exceeds ${host.maxPayload()} bytes`);
  }
  reply(r.msg, r.deadlineAt, host.log, body);
  r.succeeded = true;
  r.elapsedMs = monotonicNow() - r.arrivedAt;
}

/** What a success leaves in counters, span and (at debug) the access log. */
export function recordSuccess(r: Validated): void {
  const { host, endpoint, meta, span, elapsedMs } = r;
  endpoint.counters.record(elapsedMs, undefined, meta.caller, meta.callerVerified);
  host.telemetry.endServerSpan(span, endpoint, meta.tenant, elapsedMs, undefined);
  if (host.log.isLevelEnabled("debug")) logAccess(host.log, endpoint, meta, span, elapsedMs, undefined);
}

/** The typed error reply of a request that any step (or the handler) refused. */
export function replyFailed(r: ServedRequest, thrown: unknown): void {
  const { host, endpoint, meta } = r;
  const error = toReplyError(thrown);
  const elapsedMs = monotonicNow() - r.arrivedAt;
  endpoint.counters.record(
    elapsedMs,
    `${error.code}: ${error.message}`,
    meta?.caller,
    meta?.callerVerified ?? false,
  );
  // a request refused before its headers were read still gets a span, a root one
  r.span ??= host.telemetry.startServerSpan(endpoint, meta ?? UNREAD, ROOT_CONTEXT);
  const span = r.span;
  host.telemetry.endServerSpan(span, endpoint, meta?.tenant, elapsedMs, error);
  logAccess(host.log, endpoint, meta, span, elapsedMs, error, host.repeatedLines);
  const { headers, body } = encodeErrorReply(error, host.maxPayload());
  reply(r.msg, r.deadlineAt, host.log, body, headers);
}

/** Whatever the outcome: the request leaves the counters, the cancel registry and its slot. */
export function release(r: ServedRequest): void {
  r.endpoint.counters.inFlight--;
  r.host.telemetry.activeRequests(r.endpoint, -1);
  r.inFlight.delete(r.inFlightHandle);
  r.ctx?.dispose();
  // only successes teach the adaptive limit what latency this instance has
  r.slot?.release(r.succeeded ? r.elapsedMs : monotonicNow() - r.arrivedAt, r.succeeded, r.slotBucket);
}

function reply(msg: Msg, deadlineAt: number, log: Logger, body: Uint8Array, headers?: MsgHdrs): void {
  // past the deadline the caller has stopped waiting: a reply would only be noise
  if (monotonicNow() >= deadlineAt) {
    log.debug({ subject: msg.subject }, "reply dropped: the deadline passed");
    return;
  }
  try {
    msg.respond(body, headers === undefined ? undefined : { headers });
  } catch (error) {
    log.warn({ err: error, subject: msg.subject }, "could not send a reply");
  }
}

/**
 * The one line a request leaves: at debug when it succeeded; when it failed, at info without a
 * stack (an expected refusal), warn (the caller's fault) or error (ours), so a failure is logged
 * exactly once. Failures repeated on one endpoint with one code are rate-limited (`RepeatedLines`).
 */
function logAccess(
  log: Logger,
  endpoint: ServedEndpoint,
  meta: RequestMeta | undefined,
  span: Span,
  elapsedMs: number,
  error: MeshError | undefined,
  repeated?: RepeatedLines,
): void {
  const fields = {
    service: endpoint.service,
    endpoint: endpoint.endpoint,
    tenant: meta?.tenant,
    caller: meta?.caller,
    callerVerified: meta?.callerVerified,
    attempt: meta?.attempt,
    ...traceFields(span),
    durationMs: Math.round(elapsedMs * 1_000) / 1_000,
    code: error?.code ?? "OK",
  };
  if (error === undefined) {
    log.debug(fields, "request handled");
    return;
  }
  const level = isExpectedRefusal(error) ? "info" : error.blame === "caller" ? "warn" : "error";
  if (!log.isLevelEnabled(level)) return;
  const { service, endpoint: name } = endpoint;
  const key = `${service}.${name}|${error.code}|${level}`;
  const admitted =
    repeated === undefined ||
    repeated.admit(key, (suppressed, windowMs) =>
      log[level](
        { service, endpoint: name, code: error.code, suppressed },
        `…and ${suppressed} more like it in the last ${windowMs === 1_000 ? "second" : `${windowMs} ms`}`,
      ),
    );
  if (!admitted) return;
  if (level === "error") log.error({ ...fields, err: error.cause ?? error }, error.message);
  else log[level]({ ...fields, details: error.details }, error.message);
}

/** Requests outside any endpoint still get a typed answer. */
export function refuseRequest(msg: Msg, error: MeshError, log: Logger, maxPayload: number): void {
  log.warn({ subject: msg.subject, code: error.code }, error.message);
  const { headers, body } = encodeErrorReply(error, maxPayload);
  try {
    msg.respond(body, { headers });
  } catch (cause) {
    log.warn({ err: cause, subject: msg.subject }, "could not send a reply");
  }
}
