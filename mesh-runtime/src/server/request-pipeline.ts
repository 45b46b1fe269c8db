import type { Msg } from "@nats-io/nats-core";
import { context, ROOT_CONTEXT, type Span, trace } from "@opentelemetry/api";
import type { EndpointSpec } from "@switchyard/schemas";
import type { Logger } from "pino";
import type { z } from "zod";
import { type DedupeStore, dedupeKey } from "../dedupe/dedupe-store.js";
import { replayOrRun } from "../dedupe/replay.js";
import type { EndpointCounters } from "../discovery/responder.js";
import { isMeshError, issueDetails, MeshError, payloadTooLarge } from "../errors.js";
import type { CompiledPolicy } from "../policy/effective-settings.js";
import type { SettingsCache } from "../policy/settings-cache.js";
import type { QuotaRule } from "../quota/quota-rules.js";
import { monotonicNow } from "../resilience/clock.js";
import type { ConcurrencyLimit } from "../resilience/concurrency-limit.js";
import { remainingMs } from "../resilience/deadline.js";
import { type MeshTelemetry, type QuotaDecision, SpanEvent, traceFields } from "../telemetry/telemetry.js";
import { extractTraceContext } from "../telemetry/trace-context.js";
import { encodeErrorReply } from "../wire/error-reply.js";
import { decodeJson, encodeJson } from "../wire/json-codec.js";
import { type RequestMeta, readRequestHeaders } from "../wire/request-headers.js";
import { type ContextHost, type HandlerContext, RequestContext } from "./context.js";
import type { EndpointLimit } from "./endpoint-limit.js";
import { injectFaults } from "./fault-injection.js";
import { toReplyError } from "./reply-error.js";

/** A handler: the validated input in, a value of the output schema's input type out. */
export type Handler<E extends EndpointSpec = EndpointSpec> = (
  input: z.output<E["input"]>,
  ctx: HandlerContext,
) => z.input<E["output"]> | Promise<z.input<E["output"]>>;

/** One served endpoint, resolved once at `serve()`. */
export interface ServedEndpoint {
  readonly service: string;
  readonly endpoint: string;
  readonly subject: string;
  readonly spec: EndpointSpec;
  /** For `$SRV.STATS`. */
  readonly counters: EndpointCounters;
  readonly handler: Handler;
  /** Contract declarations overlaid by policy; `timeoutMs` is the budget without `Mesh-Timeout`. */
  readonly settings: SettingsCache;
  readonly limit: EndpointLimit;
  /** How long replies are kept for repeats; undefined when the endpoint does not deduplicate. */
  readonly dedupeTtlMs: number | undefined;
  /** Cap on any request's budget. */
  readonly maxTimeoutMs: number;
}

/** Where the pipeline sends replies and logs. */
export interface PipelineHost extends ContextHost {
  /** Largest message the server accepts, in bytes. */
  maxPayload(): number;
  /** The policy in force. */
  policy(): CompiledPolicy;
  /** The quota step: resolves to admit, rejects with QUOTA_EXCEEDED or UNAVAILABLE. */
  admitQuota(
    rules: readonly QuotaRule[],
    service: string,
    endpoint: string,
    tenant: string | undefined,
  ): Promise<void>;
  /** The replay store of deduplicated endpoints; undefined without Redis. */
  dedupe(): DedupeStore | undefined;
  readonly telemetry: MeshTelemetry;
}

/** Requests being handled, by reply subject, so a caller's cancel can find them. */
export type InFlight = Map<string, RequestContext>;

/**
 * The server pipeline. The order, and why:
 * 1. headers and deadline: malformed headers and spent budgets are refused before any work; the
 *    SERVER span starts here, child of the caller's span (`traceparent`), and every step below
 *    that decides something (shed, quota, fault, replay) is an event on it;
 * 2. access and tenant: a caller the access rules do not allow (defence in depth: the broker
 *    enforces the same rules) or an unknown tenant (when the policy denies them) is refused
 *    before anything is spent on it;
 * 3. quota (Redis): a tenant over its quota costs no concurrency slot;
 * 4. concurrency limit: shed with OVERLOADED before work, so the caller's retry goes elsewhere;
 * 5. injected faults (policy drills): they act like a failing handler, so after the limit;
 * 6. input decoding and validation: the handler only ever sees input its schema accepts;
 * 7. idempotent replay (dedupe endpoints): a repeat gets the first reply, never a second run;
 * 8. the handler, with a context whose signal aborts at the deadline or when the caller cancels
 *    (the context exists, and takes cancels, from step 2 on);
 * 9. output validation: a handler that breaks its contract is an INTERNAL error, not a bad reply.
 * Every request gets exactly one reply, or none once its deadline has passed (nobody waits).
 * A throw of any kind becomes a typed error reply at this one boundary.
 */
export async function serveRequest(
  msg: Msg,
  endpoint: ServedEndpoint,
  host: PipelineHost,
  inFlight: InFlight,
): Promise<void> {
  const arrivedAt = monotonicNow();
  const policy = host.policy();
  const settings = endpoint.settings.get(policy, undefined);
  let deadlineAt = arrivedAt + settings.timeoutMs;
  let meta: RequestMeta | undefined;
  let ctx: RequestContext | undefined;
  let slot: ConcurrencyLimit | undefined;
  let span: Span | undefined;
  let succeeded = false;
  const { telemetry } = host;
  const counters = endpoint.counters;
  counters.inFlight++;
  telemetry.activeRequests(endpoint, 1);
  try {
    meta = readRequestHeaders(msg);
    const parentContext = extractTraceContext(meta);
    const requestSpan = telemetry.startServerSpan(endpoint, meta.tenant, meta.attempt, parentContext);
    span = requestSpan;
    const budget = meta.timeoutMs ?? settings.timeoutMs;
    deadlineAt = arrivedAt + Math.min(budget, endpoint.maxTimeoutMs);
    if (budget <= 0) {
      // answered although late: the refusal costs nothing and tells a raw caller what happened
      deadlineAt = Number.POSITIVE_INFINITY;
      throw new MeshError("DEADLINE_EXCEEDED", "the request arrived with no budget left");
    }
    if (settings.maxRequestBytes !== undefined && msg.data.length > settings.maxRequestBytes) {
      throw payloadTooLarge(msg.data.length, settings.maxRequestBytes, endpoint);
    }
    // registered from here on, so a caller's cancel also reaches a request waiting on its quota
    ctx = new RequestContext(
      endpoint.service,
      endpoint.endpoint,
      meta,
      deadlineAt,
      host,
      trace.setSpan(parentContext, requestSpan),
      requestSpan,
    );
    inFlight.set(msg.reply as string, ctx);
    if (!policy.allowsCall(meta.caller, endpoint.service, endpoint.endpoint)) {
      throw new MeshError(
        "PERMISSION_DENIED",
        `${meta.caller ?? "an unnamed caller"} may not call ${endpoint.service}.${endpoint.endpoint}`,
        { details: { caller: meta.caller ?? null, service: endpoint.service, endpoint: endpoint.endpoint } },
      );
    }
    if (!policy.admitsTenant(meta.tenant)) {
      throw new MeshError("UNAUTHENTICATED", `unknown tenant ${meta.tenant}`, {
        details: { tenant: meta.tenant },
      });
    }
    const rules = policy.quotas.match(
      endpoint.service,
      endpoint.endpoint,
      meta.tenant,
      policy.planOf(meta.tenant),
    );
    if (rules.length > 0) await admitQuota(host, rules, endpoint, meta.tenant, requestSpan);
    if (settings.concurrency.enabled) {
      const limit = endpoint.limit.get(settings.concurrency);
      if (!limit.tryAcquire()) {
        counters.sheds++;
        telemetry.shed(endpoint, meta.tenant);
        requestSpan.addEvent(SpanEvent.Shed, { "mesh.concurrency.limit": limit.limit });
        throw new MeshError(
          "OVERLOADED",
          `${endpoint.service}.${endpoint.endpoint} is at its concurrency limit`,
          {
            details: { limit: limit.limit },
          },
        );
      }
      slot = limit;
    }
    const faults = policy.faults(endpoint.service, endpoint.endpoint, meta.tenant);
    if (faults.length > 0) {
      await injectFaults(faults, deadlineAt, (kind) =>
        requestSpan.addEvent(SpanEvent.Fault, { "mesh.fault.kind": kind }),
      );
    }
    const parsed = endpoint.spec.input.safeParse(decodeJson(msg.data));
    if (!parsed.success) {
      throw new MeshError("INVALID_ARGUMENT", "input does not match the endpoint's schema", {
        details: { issues: issueDetails(parsed.error) },
      });
    }
    const handlerCtx = ctx;
    const run = async (c: RequestContext) => {
      // the application's own spans and `trace.getActiveSpan()` see the request's span
      const output = await context.with(c.traceContext, endpoint.handler, undefined, parsed.data, c);
      const checked = endpoint.spec.output.safeParse(output);
      if (!checked.success) {
        throw new MeshError("INTERNAL", "the handler's output does not match its contract", {
          cause: { issues: issueDetails(checked.error) },
        });
      }
      return encodeJson(checked.data);
    };
    const body =
      endpoint.dedupeTtlMs !== undefined && meta.idempotencyKey !== undefined
        ? await replayOrRun(
            {
              store: host.dedupe(),
              key: dedupeKey(
                meta.tenant,
                endpoint.service,
                endpoint.endpoint,
                meta.caller,
                meta.idempotencyKey,
              ),
              idempotencyKey: meta.idempotencyKey,
              ttlMs: endpoint.dedupeTtlMs,
              leaseMs: Math.max(1_000, Math.ceil(remainingMs(deadlineAt)) + 1_000),
              replayed: () => requestSpan.addEvent(SpanEvent.Replay),
            },
            () => run(handlerCtx),
          )
        : await run(handlerCtx);
    if (body.length > host.maxPayload()) {
      // the handler ran, so this is not the caller's PAYLOAD_TOO_LARGE: the service broke its limit
      throw new MeshError("INTERNAL", `the reply (${body.length} bytes) exceeds ${host.maxPayload()} bytes`);
    }
    reply(msg, deadlineAt, host.log, body);
    succeeded = true;
    const elapsedMs = monotonicNow() - arrivedAt;
    counters.record(elapsedMs, undefined, meta.caller);
    telemetry.endServerSpan(requestSpan, endpoint, meta.tenant, elapsedMs, undefined);
    if (host.log.isLevelEnabled("debug")) {
      logAccess(host.log, endpoint, meta, requestSpan, elapsedMs, undefined);
    }
  } catch (thrown) {
    const error = toReplyError(thrown);
    const elapsedMs = monotonicNow() - arrivedAt;
    counters.record(elapsedMs, `${error.code}: ${error.message}`, meta?.caller);
    // a request refused before its headers were read still gets a span, a root one
    span ??= telemetry.startServerSpan(endpoint, meta?.tenant, meta?.attempt ?? 1, ROOT_CONTEXT);
    telemetry.endServerSpan(span, endpoint, meta?.tenant, elapsedMs, error);
    logAccess(host.log, endpoint, meta, span, elapsedMs, error);
    const { headers, body } = encodeErrorReply(error, host.maxPayload());
    reply(msg, deadlineAt, host.log, body, headers);
  } finally {
    counters.inFlight--;
    telemetry.activeRequests(endpoint, -1);
    if (ctx !== undefined) {
      inFlight.delete(msg.reply as string);
      ctx.dispose();
    }
    // only successes teach the adaptive limit what latency this instance has
    slot?.release(monotonicNow() - arrivedAt, succeeded);
  }
}

function reply(
  msg: Msg,
  deadlineAt: number,
  log: Logger,
  body: Uint8Array,
  headers?: ReturnType<typeof encodeErrorReply>["headers"],
): void {
  // past the deadline the caller has stopped waiting: a reply would only be noise
  if (monotonicNow() > deadlineAt) {
    log.debug({ subject: msg.subject }, "reply dropped: the deadline passed");
    return;
  }
  try {
    msg.respond(body, headers === undefined ? undefined : { headers });
  } catch (error) {
    log.warn({ err: error, subject: msg.subject }, "could not send a reply");
  }
}

/** The quota step, with its decision recorded (metrics and a span event). */
async function admitQuota(
  host: PipelineHost,
  rules: readonly QuotaRule[],
  endpoint: ServedEndpoint,
  tenant: string | undefined,
  span: Span,
): Promise<void> {
  let decision: QuotaDecision = "admit";
  try {
    await host.admitQuota(rules, endpoint.service, endpoint.endpoint, tenant);
  } catch (error) {
    decision = isMeshError(error) && error.code === "QUOTA_EXCEEDED" ? "deny" : "unavailable";
    throw error;
  } finally {
    host.telemetry.quotaDecision(endpoint, decision, tenant);
    span.addEvent(SpanEvent.Quota, { "mesh.quota.decision": decision });
  }
}

/**
 * The one line a request leaves: at debug when it succeeded, at warn (the caller's fault) or
 * error (ours) when it failed, so a failure is logged exactly once.
 */
function logAccess(
  log: Logger,
  endpoint: ServedEndpoint,
  meta: RequestMeta | undefined,
  span: Span,
  elapsedMs: number,
  error: MeshError | undefined,
): void {
  const fields = {
    service: endpoint.service,
    endpoint: endpoint.endpoint,
    tenant: meta?.tenant,
    caller: meta?.caller,
    attempt: meta?.attempt,
    ...traceFields(span),
    durationMs: Math.round(elapsedMs * 1_000) / 1_000,
    code: error?.code ?? "OK",
  };
  if (error === undefined) log.debug(fields, "request handled");
  else if (error.status >= 500) log.error({ ...fields, err: error.cause ?? error }, error.message);
  else log.warn({ ...fields, details: error.details }, error.message);
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
