import { context } from "@opentelemetry/api";
import { issueDetails } from "@switchyard/schemas";
import { dedupeKey } from "../dedupe/dedupe-store.js";
import { replayOrRun } from "../dedupe/replay.js";
import { isMeshError, MeshError, payloadTooLarge } from "../errors.js";
import { checkTenant as checkTenantOf } from "../identity/tenant-check.js";
import type { QuotaRule } from "../quota/quota-rules.js";
import { remainingMs } from "../resilience/deadline.js";
import { type QuotaDecision, SpanEvent } from "../telemetry/telemetry.js";
import { extractTraceContext } from "../telemetry/trace-context.js";
import { decodeJson, encodeJson } from "../wire/json-codec.js";
import { readRequestHeaders } from "../wire/request-headers.js";
import { safeParseExact } from "../wire/schema-check.js";
import { requestCancelKey } from "./cancel-key.js";
import { RequestContext } from "./context.js";
import { requestCriticality, shareBucket } from "./endpoint-limit.js";
import { injectFaults } from "./fault-injection.js";
import type {
  Admitted,
  Allowed,
  Drilled,
  ServedRequest,
  Slotted,
  Tenanted,
  Timed,
  Validated,
} from "./served-request.js";

// The steps of the server pipeline, in its order (`serveRequest` says why this order).

/** 1. Headers and deadline; the SERVER span and the handler context start here. */
export function readHeaders(r: ServedRequest): Timed {
  const { endpoint, settings, msg } = r;
  const vouched = r.host.vouchesIdentity();
  const meta = readRequestHeaders(msg, vouched);
  r.meta = meta;
  // no span, metric or log line carries the asserted tenant: the tenant step sets the checked one
  r.assertedTenant = meta.tenant;
  meta.tenant = undefined;
  const parentContext = extractTraceContext(meta);
  const span = r.host.telemetry.startServerSpan(endpoint, meta, parentContext);
  r.span = span;
  const budget = meta.timeoutMs ?? settings.timeoutMs;
  r.deadlineAt = r.arrivedAt + Math.min(budget, endpoint.maxTimeoutMs);
  if (budget <= 0) {
    // answered although late: the refusal costs nothing and tells a raw caller what happened
    r.deadlineAt = Number.POSITIVE_INFINITY;
    throw new MeshError("DEADLINE_EXCEEDED", "the request arrived with no budget left");
  }
  if (settings.maxRequestBytes !== undefined && msg.data.length > settings.maxRequestBytes) {
    throw payloadTooLarge(msg.data.length, settings.maxRequestBytes, endpoint);
  }
  // registered from here on, so a caller's cancel also reaches a request waiting on its quota
  r.ctx = new RequestContext(
    endpoint.service,
    endpoint.endpoint,
    meta,
    r.deadlineAt,
    r.host,
    parentContext,
    span,
  );
  r.cancelKey = requestCancelKey(msg.reply as string, meta, vouched);
  r.inFlightHandle = r.inFlight.add(r);
  return r as Timed;
}

/** 2a. Tenant: the one a tenant issuer's token vouches for, or the asserted one where the policy allows. */
export function checkTenant(r: Timed): Tenanted {
  const { meta, policy } = r;
  const checked = checkTenantOf(
    r.assertedTenant,
    meta.tenantToken,
    () => policy.tenantVerifier(),
    policy.requiresVerifiedTenant,
  );
  meta.tenant = checked.tenant;
  meta.tenantVerified = checked.verified;
  if (checked.tenant !== undefined) {
    r.span.setAttribute("mesh.tenant", checked.tenant);
    r.span.setAttribute("mesh.tenant.verified", checked.verified);
  }
  if (!policy.admitsTenant(meta.tenant)) {
    throw new MeshError("UNAUTHENTICATED", `unknown tenant ${meta.tenant}`, {
      details: { tenant: meta.tenant },
    });
  }
  return r as Tenanted;
}

/** 2b. Access rule. */
export function checkAccess(r: Tenanted): Allowed {
  const { meta, endpoint, policy } = r;
  if (!policy.allowsCall(meta.caller, endpoint.service, endpoint.endpoint)) {
    throw new MeshError(
      "PERMISSION_DENIED",
      `${meta.caller ?? "an unnamed caller"} may not call ${endpoint.service}.${endpoint.endpoint}`,
      { details: { caller: meta.caller ?? null, service: endpoint.service, endpoint: endpoint.endpoint } },
    );
  }
  return r as Allowed;
}

/** 3. Quota; synchronous when no rule matches, so most requests await nothing here. */
export function admitQuota(r: Allowed): Admitted | Promise<Admitted> {
  const { endpoint, meta, policy } = r;
  const rules = policy.quotas.match(
    endpoint.service,
    endpoint.endpoint,
    meta.tenant,
    policy.planOf(meta.tenant),
  );
  return rules.length === 0 ? (r as Admitted) : decideQuota(r, rules);
}

/** The quota decision, recorded (metrics and a span event). */
async function decideQuota(r: Allowed, rules: readonly QuotaRule[]): Promise<Admitted> {
  const { host, endpoint, meta } = r;
  let decision: QuotaDecision = "admit";
  try {
    await host.admitQuota(rules, endpoint.service, endpoint.endpoint, meta.tenant);
  } catch (error) {
    decision = isMeshError(error) && error.code === "QUOTA_EXCEEDED" ? "deny" : "unavailable";
    throw error;
  } finally {
    host.telemetry.quotaDecision(endpoint, decision, meta.tenant);
    r.span.addEvent(SpanEvent.Quota, { "mesh.quota.decision": decision });
  }
  return r as Admitted;
}

/**
 * 4. Concurrency limit: shed with OVERLOADED before any work; fair among tenants (weighted by
 * plan) and least critical first (`concurrency-limit.ts` says how).
 */
export function acquireSlot(r: Admitted): Slotted {
  const { settings, endpoint, policy, meta } = r;
  if (!settings.concurrency.enabled) return r as Slotted;
  const limit = endpoint.limit.get(settings.concurrency);
  // weight and criticality may differ per plan; the limit itself is the endpoint's
  const own =
    meta.tenant === undefined ? settings : endpoint.settings.get(policy, policy.planOf(meta.tenant));
  const bucket = shareBucket(policy, meta.tenant);
  const criticality = requestCriticality(own.concurrency, meta.criticality);
  if (!limit.tryAcquire(bucket, own.concurrency.weight, criticality)) {
    endpoint.counters.sheds++;
    r.host.telemetry.shed(endpoint, meta.tenant);
    r.span.addEvent(SpanEvent.Shed, {
      "mesh.concurrency.limit": limit.limit,
      "mesh.concurrency.criticality": criticality,
    });
    throw new MeshError(
      "OVERLOADED",
      `${endpoint.service}.${endpoint.endpoint} is at its concurrency limit`,
      {
        details: { limit: limit.limit },
      },
    );
  }
  r.slot = limit;
  r.slotBucket = bucket;
  return r as Slotted;
}

/** 5. Injected faults (policy drills); synchronous when there are none. */
export function drillFaults(r: Slotted): Drilled | Promise<Drilled> {
  const faults = r.policy.faults(r.endpoint.service, r.endpoint.endpoint, r.meta.tenant);
  if (faults.length === 0) return r as Drilled;
  return injectFaults(faults, r.deadlineAt, (kind) =>
    r.span.addEvent(SpanEvent.Fault, { "mesh.fault.kind": kind }),
  ).then(() => r as Drilled);
}

/** 6. Input decoding and validation (unless the policy turned it off for the endpoint). */
export function validateInput(r: Drilled): Validated {
  const body = decodeJson(r.msg.data);
  if (!r.settings.validation.input) {
    r.input = body;
    return r as Validated;
  }
  const parsed = safeParseExact(r.endpoint.spec.input, body);
  if (!parsed.success) {
    throw new MeshError("INVALID_ARGUMENT", "input does not match the endpoint's schema", {
      details: { issues: issueDetails(parsed.error) },
    });
  }
  r.input = parsed.data;
  return r as Validated;
}

/**
 * 7. Idempotent replay (dedupe endpoints), else steps 8 and 9 at once: the reply's body, at once
 * when the handler returned a value rather than a promise.
 */
export function handle(r: Validated): Uint8Array | Promise<Uint8Array> {
  const { endpoint, meta } = r;
  if (endpoint.dedupeTtlMs === undefined || meta.idempotencyKey === undefined) return runHandler(r);
  return replayOrRun(
    {
      store: r.host.dedupe(),
      key: dedupeKey(meta.tenant, endpoint.service, endpoint.endpoint, meta.caller, meta.idempotencyKey),
      idempotencyKey: meta.idempotencyKey,
      body: r.msg.data,
      ttlMs: endpoint.dedupeTtlMs,
      leaseMs: Math.max(1_000, Math.ceil(remainingMs(r.deadlineAt)) + 1_000),
      replayed: () => r.span.addEvent(SpanEvent.Replay),
    },
    async () => runHandler(r),
  );
}

/**
 * 8. The handler; its output is encoded as it is: a caller that has the contract checks it
 * (`validation.output`), where a bad reply would do harm.
 */
function runHandler(r: Validated): Uint8Array | Promise<Uint8Array> {
  const { endpoint, ctx } = r;
  // the application's own spans and `trace.getActiveSpan()` see the request's span
  const output: unknown = context.with(ctx.traceContext, endpoint.handler, undefined, r.input, ctx);
  // a handler that returned a value is answered without a promise or a microtask in between
  return isThenable(output) ? Promise.resolve(output).then(encodeOutput) : encodeOutput(output);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

function encodeOutput(output: unknown): Uint8Array {
  try {
    return encodeJson(output);
  } catch (cause) {
    throw new MeshError("INTERNAL", "the handler's output is not JSON-serialisable", { cause });
  }
}
