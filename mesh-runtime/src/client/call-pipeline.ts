import { setTimeout as sleep } from "node:timers/promises";
import { nuid } from "@nats-io/nats-core";
import { type Context, context, type Span } from "@opentelemetry/api";
import { type CallStats, type CancelMessage, type Criticality, issueDetails } from "@switchyard/schemas";
import type { Logger } from "pino";
import type { ZodType } from "zod";
import { BoundedCache } from "../bounded-cache.js";
import { isMeshError, MeshError, payloadTooLarge } from "../errors.js";
import type { TenantSigner } from "../identity/tenant-signer.js";
import type { ResolvedCallOptions } from "../options.js";
import type { CompiledPolicy, EffectiveSettings } from "../policy/effective-settings.js";
import type { SettingsCache } from "../policy/settings-cache.js";
import { fullJitterDelayMs } from "../resilience/backoff.js";
import type { BreakerState, CircuitBreaker, Permit } from "../resilience/circuit-breaker.js";
import { monotonicNow } from "../resilience/clock.js";
import { deriveDeadline, remainingMs } from "../resilience/deadline.js";
import { RetryBudget } from "../resilience/retry-budget.js";
import { mayRetry } from "../resilience/retry-decision.js";
import { type AttemptRouter, markUnanswered } from "../routing/attempt-router.js";
import { MirrorSender } from "../routing/mirror-sender.js";
import { Router } from "../routing/router.js";
import { markDownstream } from "../server/reply-error.js";
import { type MeshTelemetry, SpanEvent, traceFields } from "../telemetry/telemetry.js";
import { injectTraceContext, type TraceHeaders } from "../telemetry/trace-context.js";
import { exceedsBytes, jsonText } from "../wire/json-codec.js";
import { type EncodedRequest, encodeRequest } from "../wire/raw-headers.js";
import { attemptHeaders, fixedRequestHeaders } from "../wire/request-headers.js";
import { safeParseExact } from "../wire/schema-check.js";
import { AttemptFailed, settleAttempt } from "./attempt.js";
import { BreakerRegistry } from "./breaker-registry.js";
import { CallCounters } from "./call-counters.js";
import { isSendFailure, type Requester, type SendResult } from "./requester.js";

// failures this process caused (an attempt never sent, or a reply lost with its own connection):
// they say nothing about the callee
const notTheCallee = new WeakSet<MeshError>();

/** A dedupe callee's answer that the key's first attempt is still running (docs/PROTOCOL.md §17). */
const stillRunning = (error: MeshError) =>
  error.code === "CONFLICT" && (error.details as { reason?: unknown } | undefined)?.reason === "running";

/** An attempt's timeout: what is left of the deadline, or less; throws once nothing is left. */
function attemptTimeoutMs(plan: CallPlan): number {
  const left = remainingMs(plan.deadline);
  if (left < 1) {
    throw markDownstream(
      new MeshError("DEADLINE_EXCEEDED", `deadline passed before calling ${plan.target.subject}`),
    );
  }
  const cap = plan.attemptTimeoutMs;
  return cap !== undefined && cap < left ? cap : left;
}

/**
 * A call's outcome counts against the breaker when the callee is to blame (docs/ERRORS.md): a
 * tenant over its quota or a bad input, however deep in the chain it arose, never opens it.
 */
function unwell(error: unknown): boolean {
  if (!isMeshError(error) || notTheCallee.has(error)) return false;
  // a spent budget is as bad as the failures that spent it
  const judged = error.code === "RETRY_BUDGET_EXHAUSTED" && isMeshError(error.cause) ? error.cause : error;
  return judged.blame === "callee";
}

const MAX_BUDGETS = 1_000;
// header lines per tenant (or tenant token) and criticality: bounded, tenants are many
const MAX_FIXED_HEADERS = 10_000;
const NO_TENANT = "";
// a caller may name any endpoint: past this many, new ones go uncounted rather than grow the map
const MAX_COUNTED_TARGETS = 1_000;

/** What a target's calls used last, for the settings they ran under. */
interface Chosen {
  readonly settings: EffectiveSettings;
  readonly budget: RetryBudget;
  breaker: CircuitBreaker | undefined;
}

/** One logical call, fixed before its first attempt. */
interface CallPlan {
  readonly target: CallTarget;
  /** Where every attempt goes: the target's subject, or a version's when a route chose one. */
  readonly subject: string;
  /** The version a route chose; undefined: any. Balancing picks among its instances. */
  readonly major: number | undefined;
  /** `Mesh-Route` every attempt carries. */
  readonly route: string | undefined;
  /** The body as JSON text: encoded with each attempt's headers, in one buffer. */
  readonly json: string;
  /** The header lines every attempt carries alike (caller, tenant, token, criticality). */
  readonly fixedHeaders: string;
  readonly deadline: number;
  readonly attemptTimeoutMs: number | undefined;
  readonly maxAttempts: number;
  readonly idempotent: boolean;
  readonly idempotencyKey: string;
  readonly tenant: string | undefined;
  /** Vouches for `tenant`: minted here (a tenant issuer) or the handled request's, unchanged. */
  readonly tenantToken: string | undefined;
  readonly criticality: Criticality | undefined;
  readonly signal: AbortSignal | undefined;
  readonly settings: EffectiveSettings;
  readonly budget: RetryBudget;
  /** The call's CLIENT span, and the trace headers every attempt carries. */
  readonly span: Span;
  readonly trace: TraceHeaders;
  /** Monotonic ms. */
  readonly startedAt: number;
  /** The breaker whose permit the call holds (step 2); undefined: none. */
  breaker: CircuitBreaker | undefined;
  permit: Exclude<Permit, "reject">;
  /** The breaker's state as the call last saw it: a change since is an event on its span. */
  breakerState: BreakerState;
}

/** The endpoint a call goes to, resolved once per (service, endpoint). */
export interface CallTarget {
  readonly service: string;
  readonly endpoint: string;
  readonly subject: string;
  /** Contract declarations overlaid by policy, cached per policy version. */
  readonly settings: SettingsCache;
  /** The contract's output schema, which replies are checked against; none when called by name. */
  readonly output?: ZodType | undefined;
}

/** What a call made inside a handler inherits from the request being handled. */
export interface ParentRequest {
  /** Monotonic ms (`performance.now()`). */
  readonly deadlineAt: number;
  readonly tenant: string | undefined;
  /** The token that vouched for `tenant`, passed on unchanged; undefined when none did. */
  readonly tenantToken: string | undefined;
  /** The request's SERVER span context: calls made while handling it are its children. */
  readonly traceContext: Context;
  /** Aborts when the parent request is cancelled or past its deadline; child calls follow it. */
  readonly signal: AbortSignal;
  /** The request's `Mesh-Route` (route headers and pins), which the chain carries on. */
  readonly route: string | undefined;
}

/**
 * The client pipeline. The order, and why:
 * 0. a CLIENT span for the logical call (attempts, retries and breaker decisions are its events),
 *    child of the handled request or of the application's active span;
 * 1. deadline: the smaller of this call's timeout and the parent's remaining budget, fixed once,
 *    so retries share it instead of each getting a fresh one;
 * 2. circuit breaker: fail fast with CIRCUIT_OPEN while the endpoint is known to be unwell,
 *    before spending anything on it; it counts whole calls, so a shed that a retry on another
 *    instance absorbs is not held against the endpoint;
 * 3. retry loop: only retryable codes, only when safe (idempotent, or provably not executed),
 *    full-jitter backoff that never sleeps past the deadline, `Mesh-Retry-After` honoured, and a
 *    retry budget per target service so retries stay a bounded share of traffic;
 * 4. one attempt: headers (same Idempotency-Key, increasing Mesh-Attempt, remaining budget),
 *    publish on the multiplexed inbox, map NATS failures to codes.
 * Errors are created and thrown in `#retryLoop`, the one async step, after its awaits, so V8's
 * async stack traces show the application's call site without an `Error` allocated per request.
 */
export class CallPipeline {
  readonly #requester: Requester;
  readonly #caller: string;
  readonly #policy: () => CompiledPolicy;
  readonly #log: Logger;
  readonly #telemetry: MeshTelemetry;
  // keyed by target service: few, but a caller may name any service, so bounded all the same
  readonly #budgets = new BoundedCache<string, RetryBudget>(MAX_BUDGETS);
  readonly #breakers: BreakerRegistry;
  // by subject (one per endpoint, a string the target already holds: no key built per call)
  readonly #counters = new Map<string, CallCounters>();
  // the breaker and budget a target's last call used, with the settings they were chosen for:
  // settings are resolved once per policy version and plan, so while they are the same object,
  // so are the breaker and budget, and no key string is built per call
  readonly #chosen = new WeakMap<CallTarget, Chosen>();
  // by criticality, then by tenant token (else tenant): header lines built once, not per call
  readonly #fixedHeaders = new Map<Criticality | undefined, BoundedCache<string, string>>();
  #active = 0;
  // Idempotency-Keys: a NUID drawn once and a call counter, as unique across processes as a NUID
  // per call (the prefix is random, of fixed length), for a quarter of its cost
  readonly #keyPrefix = nuid.next();
  #keys = 0;

  readonly #abandon: (service: string, cancel: Required<CancelMessage>) => void;
  readonly #signer: TenantSigner;
  readonly #router = new Router();
  readonly #mirrors: MirrorSender;
  readonly #attempts: AttemptRouter | undefined;

  /**
   * `abandon` tells a callee that nobody waits for its reply any more (the cancel subject);
   * `signer` mints tenant tokens when the policy names this identity a tenant issuer; `router`
   * picks each attempt's instance and hedges (balancing, routing/), when given.
   */
  constructor(
    requester: Requester,
    caller: string,
    policy: () => CompiledPolicy,
    log: Logger,
    telemetry: MeshTelemetry,
    abandon: (service: string, cancel: Required<CancelMessage>) => void,
    signer: TenantSigner,
    attempts?: AttemptRouter,
  ) {
    this.#attempts = attempts;
    this.#requester = requester;
    this.#signer = signer;
    this.#telemetry = telemetry;
    this.#abandon = abandon;
    this.#caller = caller;
    this.#policy = policy;
    this.#log = log;
    this.#breakers = new BreakerRegistry(telemetry, log);
    this.#mirrors = new MirrorSender(requester, telemetry);
  }

  /**
   * Steps 0 to 2 at once: the span, the plan, the breaker's permit; a call refused there (an
   * input that is not JSON or too large, an open circuit) ends before any attempt. Then
   * `#retryLoop`, the call's one async step.
   */
  call(
    target: CallTarget,
    input: unknown,
    opts: ResolvedCallOptions,
    parent: ParentRequest | undefined,
  ): Promise<unknown> {
    const startedAt = monotonicNow();
    const tenant = opts.tenant ?? parent?.tenant;
    const parentContext = parent?.traceContext ?? context.active();
    const span = this.#telemetry.startClientSpan(target, tenant, parentContext);
    this.#active++;
    let plan: CallPlan;
    try {
      plan = this.#plan(target, input, opts, parent, tenant, span, parentContext, startedAt);
      plan.budget.recordRequest();
      if (plan.settings.breaker.enabled) this.#acquirePermit(plan);
    } catch (error) {
      this.#active--;
      this.#ended(target, tenant, span, startedAt, error);
      return Promise.reject(error);
    }
    return this.#retryLoop(plan);
  }

  /** Calls not yet settled, those waiting in a retry back-off or for a reconnect included. */
  get active(): number {
    return this.#active;
  }

  /**
   * Step 1: the deadline, the call's settings and its payload, fixed before the first attempt.
   * `now`: when the call started.
   */
  #plan(
    target: CallTarget,
    input: unknown,
    opts: ResolvedCallOptions,
    parent: ParentRequest | undefined,
    tenant: string | undefined,
    span: Span,
    parentContext: Context,
    now: number,
  ): CallPlan {
    const policy = this.#policy();
    const settings = target.settings.get(policy, policy.planOf(tenant));
    let json: string;
    try {
      json = jsonText(input);
    } catch (cause) {
      throw new MeshError("INVALID_ARGUMENT", "the input is not JSON-serialisable", { cause });
    }
    // the callee would refuse it: say so without sending it
    const tooLarge =
      settings.maxRequestBytes === undefined ? undefined : exceedsBytes(json, settings.maxRequestBytes);
    if (tooLarge !== undefined && settings.maxRequestBytes !== undefined) {
      throw markDownstream(payloadTooLarge(tooLarge, settings.maxRequestBytes, target));
    }
    // a detached call (compensation) keeps the request's tenant and trace, not its time or fate
    const bound = opts.detached === true ? undefined : parent;
    const deadline = deriveDeadline(now, opts.timeoutMs ?? settings.timeoutMs, bound?.deadlineAt);
    const tenantToken = this.#tenantToken(policy, tenant, parent);
    const trace = injectTraceContext(parentContext, span);
    // the route hook: the version this call goes to, and copies for mirrors (routing/)
    const route = this.#router.route(target, policy, tenant, parent, opts.routeHeaders);
    if (route.major !== undefined) this.#telemetry.routed(target, route.major, tenant);
    if (route.mirrors.length > 0) {
      const meta = { caller: this.#caller, tenant, tenantToken, trace };
      this.#mirrors.send(target, route, Buffer.from(json, "utf8"), remainingMs(deadline), meta);
    }
    return {
      target,
      subject: route.subject,
      major: route.major,
      route: route.header,
      json,
      fixedHeaders: this.#fixedHeadersOf(tenant, tenantToken, opts.criticality),
      deadline,
      attemptTimeoutMs: opts.attemptTimeoutMs ?? settings.attemptTimeoutMs,
      maxAttempts: opts.maxAttempts ?? settings.retry.maxAttempts,
      idempotent: opts.idempotent ?? settings.idempotent,
      idempotencyKey: opts.idempotencyKey ?? this.#keyPrefix + (++this.#keys).toString(36),
      tenant,
      tenantToken,
      criticality: opts.criticality,
      // a call made inside a handler is abandoned when that handler's own caller gives up
      signal:
        opts.signal !== undefined && bound !== undefined
          ? AbortSignal.any([opts.signal, bound.signal])
          : (opts.signal ?? bound?.signal),
      settings,
      budget: this.#chosenFor(target, settings).budget,
      span,
      trace,
      startedAt: now,
      breaker: undefined,
      permit: "pass",
      breakerState: "closed",
    };
  }

  /**
   * The token that vouches for the call's tenant: a tenant issuer mints one; any other runtime
   * passes on the handled request's token, and only for the tenant that token names.
   */
  #tenantToken(policy: CompiledPolicy, tenant: string | undefined, parent: ParentRequest | undefined) {
    if (tenant === undefined) return undefined;
    return (
      this.#signer.tokenFor(policy, tenant) ?? (parent?.tenant === tenant ? parent.tenantToken : undefined)
    );
  }

  /**
   * Step 2: the circuit breaker fails fast while open; the permit it gives is kept on the plan,
   * and the breaker hears how the whole call went (`#succeeded`, `#failed`).
   */
  #acquirePermit(plan: CallPlan): void {
    const { target, span } = plan;
    const breaker = this.#breaker(target, plan.settings, plan.startedAt);
    const before = breaker.state;
    const permit = breaker.acquire();
    plan.breakerState = this.#breakerEvent(span, breaker, before);
    if (permit === "reject") {
      span.addEvent(SpanEvent.CircuitOpen);
      throw markDownstream(
        new MeshError("CIRCUIT_OPEN", `the circuit to ${target.service}.${target.endpoint} is open`, {
          details: { service: target.service, endpoint: target.endpoint },
        }),
      );
    }
    plan.breaker = breaker;
    plan.permit = permit;
  }

  /** The call succeeded: the breaker, the span, the metric and the counters hear it. */
  #succeeded(plan: CallPlan): void {
    const elapsedMs = monotonicNow() - plan.startedAt;
    const { breaker, span, target } = plan;
    if (breaker !== undefined) {
      breaker.record(plan.permit, false);
      this.#breakerEvent(span, breaker, plan.breakerState);
    }
    this.#telemetry.endClientSpan(span, target, plan.tenant, elapsedMs, undefined);
    this.#countersOf(target)?.record(elapsedMs, undefined);
  }

  /** The call failed after its permit was taken. */
  #failed(plan: CallPlan, error: unknown): void {
    const { breaker } = plan;
    if (breaker !== undefined) {
      // a cancelled call says nothing about the callee: it only gives its probe slot back
      if (isMeshError(error) && error.code === "CANCELLED") breaker.release(plan.permit);
      else breaker.record(plan.permit, unwell(error));
      this.#breakerEvent(plan.span, breaker, plan.breakerState);
    }
    this.#ended(plan.target, plan.tenant, plan.span, plan.startedAt, error);
  }

  /** A failed call's span, metric and counters. */
  #ended(
    target: CallTarget,
    tenant: string | undefined,
    span: Span,
    startedAt: number,
    error: unknown,
  ): void {
    const failure = isMeshError(error)
      ? error
      : new MeshError("INTERNAL", "the call failed", { cause: error });
    const elapsedMs = monotonicNow() - startedAt;
    this.#telemetry.endClientSpan(span, target, tenant, elapsedMs, failure);
    this.#countersOf(target)?.record(elapsedMs, failure.code);
  }

  /** A state change this call caused is an event on its span; returns the state now. */
  #breakerEvent(span: Span, breaker: CircuitBreaker, before: BreakerState): BreakerState {
    const now = breaker.state;
    if (now !== before)
      span.addEvent(SpanEvent.BreakerState, { "mesh.breaker.state": now, "mesh.breaker.previous": before });
    return now;
  }

  /**
   * Step 3, and the call's end: attempts until one succeeds or a retry is unsafe, unaffordable or
   * too late. The call's only async step, so one promise and one stack of awaits per call.
   */
  async #retryLoop(plan: CallPlan): Promise<unknown> {
    try {
      // balancing and hedging decide where each attempt goes (routing/); otherwise the queue group
      const route = this.#attempts?.routes(plan.settings, plan.idempotent)
        ? this.#attempts.begin(plan)
        : undefined;
      let earlier: AttemptFailed | undefined;
      for (let attempt = 1; ; ) {
        const timeoutMs = attemptTimeoutMs(plan);
        // nothing can be sent while reconnecting (~50 ms to another node): wait for it within the
        // deadline instead of spending every attempt and back-off inside it
        if (!this.#requester.connected) {
          await this.#awaitReconnect(plan);
          continue;
        }
        let result: unknown;
        if (route === undefined) {
          const { headers, payload } = this.#request(plan, attempt, timeoutMs);
          const sent = await this.#requester.send(plan.subject, payload, headers, timeoutMs, plan.signal);
          result = this.#settle(plan, sent, timeoutMs, attempt);
        } else if (!route.hedges(attempt)) {
          // to the instance the balancer picked, sent here: no closure or promise of the router's
          const subject = route.next();
          const { headers, payload } = this.#request(plan, attempt, timeoutMs);
          const sent = await this.#requester.send(subject, payload, headers, timeoutMs, plan.signal);
          result = this.#settleRouted(plan, sent, timeoutMs, attempt);
          // the broker refused this identity the instance's subject: the same attempt, to the queue group
          if (route.settled(result)) continue;
        } else {
          result = await route.attempt(attempt, (subject, n, signal) =>
            this.#sendTo(plan, subject, n, timeoutMs, signal),
          );
          attempt = route.lastAttempt;
        }
        if (!(result instanceof AttemptFailed)) {
          this.#succeeded(plan);
          return result;
        }
        // never sent: not an attempt; the next turn waits for the reconnect
        if (result.disconnected && !result.sent) continue;
        let delayMs: number;
        try {
          delayMs = this.#retryDelay(plan, attempt, result);
        } catch (final) {
          // the retry found the earlier attempt still running and cannot wait for it: the call ends
          // as that attempt did (its timeout), not as a CONFLICT the caller never made
          if (final === result.error && earlier !== undefined && stillRunning(result.error))
            throw markDownstream(earlier.error);
          throw final;
        }
        // the failure a later "still running" stands for: not another "still running"
        if (!stillRunning(result.error)) earlier = result;
        this.#recordRetry(plan, attempt, result.error, delayMs);
        attempt++;
        if (delayMs > 0) {
          try {
            await sleep(delayMs, undefined, plan.signal ? { signal: plan.signal } : undefined);
          } catch {
            throw markDownstream(
              new MeshError("CANCELLED", `the call to ${plan.target.subject} was aborted`),
            );
          }
        }
      }
    } catch (error) {
      this.#failed(plan, error);
      throw error;
    } finally {
      this.#active--;
    }
  }

  /** Step 4 for a hedge race: one attempt to the subject the router chose (an instance's or the queue group). */
  async #sendTo(
    plan: CallPlan,
    subject: string,
    attempt: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    // a hedge leaves later than the first attempt: its budget ends at the deadline all the same
    const ms = Math.max(1, Math.min(timeoutMs, Math.floor(remainingMs(plan.deadline))));
    const { headers, payload } = this.#request(plan, attempt, ms);
    const sent = await this.#requester.send(subject, payload, headers, ms, signal);
    return this.#settleRouted(plan, sent, ms, attempt);
  }

  /** `#settle` for an attempt balancing hears of. */
  #settleRouted(plan: CallPlan, sent: SendResult, timeoutMs: number, attempt: number): unknown {
    const result = this.#settle(plan, sent, timeoutMs, attempt);
    // no reply at all, as opposed to a callee's DEADLINE_EXCEEDED: balancing reads it as silence
    if (result instanceof AttemptFailed && isSendFailure(sent) && sent.kind === "timeout") {
      markUnanswered(result);
    }
    return result;
  }

  /** Waits for the connection to come back; throws when the deadline or the call ends first. */
  async #awaitReconnect(plan: CallPlan): Promise<void> {
    const failure = await this.#requester.reconnected(remainingMs(plan.deadline), plan.signal);
    if (failure === undefined) return;
    const { subject } = plan.target;
    const error =
      failure.kind === "disconnected"
        ? new MeshError(
            "UNAVAILABLE",
            `disconnected from NATS: no reconnect before the deadline (calling ${subject})`,
          )
        : (settleAttempt(failure, subject, 0) as AttemptFailed).error;
    notTheCallee.add(error);
    throw markDownstream(error);
  }

  /**
   * Step 4, one attempt: its headers (same Idempotency-Key, its number, the budget left) and the
   * body, encoded together into one buffer.
   */
  #request(plan: CallPlan, attempt: number, timeoutMs: number): EncodedRequest {
    const headers = attemptHeaders(plan.fixedHeaders, {
      timeoutMs,
      attempt,
      idempotencyKey: plan.idempotencyKey,
      route: plan.route,
      trace: plan.trace,
    });
    return encodeRequest(headers, plan.json);
  }

  /** The header lines a call carries on every attempt, built once per tenant (or token) and level. */
  #fixedHeadersOf(
    tenant: string | undefined,
    tenantToken: string | undefined,
    criticality: Criticality | undefined,
  ): string {
    let byTenant = this.#fixedHeaders.get(criticality);
    if (byTenant === undefined) {
      byTenant = new BoundedCache(MAX_FIXED_HEADERS);
      this.#fixedHeaders.set(criticality, byTenant);
    }
    // a token names its tenant: it alone keys the lines
    const key = tenantToken ?? tenant ?? NO_TENANT;
    let lines = byTenant.get(key);
    if (lines === undefined) {
      lines = fixedRequestHeaders({ caller: this.#caller, tenant, tenantToken, criticality });
      byTenant.set(key, lines);
    }
    return lines;
  }

  /**
   * Step 4, one attempt: what came back, as the reply body (checked against the contract, where
   * a bad reply would do harm) or the failure.
   */
  #settle(plan: CallPlan, sent: SendResult, timeoutMs: number, attempt: number): unknown {
    const settled = settleAttempt(sent, plan.target.subject, timeoutMs);
    const result = settled instanceof AttemptFailed ? settled : this.#checkReply(plan, settled);
    if (result instanceof AttemptFailed) {
      if (result.abandonedReply !== undefined) {
        // both names of the attempt: its reply (open broker), its key and number (vouching broker)
        const { idempotencyKey } = plan;
        this.#abandon(plan.target.service, { reply: result.abandonedReply, idempotencyKey, attempt });
      }
      if (!result.sent || result.disconnected) notTheCallee.add(result.error);
    }
    return result;
  }

  /** A reply that breaks the contract is the callee's INTERNAL error, as if it had said so. */
  #checkReply(plan: CallPlan, body: unknown): unknown {
    const { output, subject } = plan.target;
    if (output === undefined || !plan.settings.validation.output) return body;
    const checked = safeParseExact(output, body);
    if (checked.success) return checked.data;
    return new AttemptFailed(
      new MeshError("INTERNAL", `the reply from ${subject} does not match its contract`, {
        details: { issues: issueDetails(checked.error) },
      }),
      true,
    );
  }

  /** How long to wait before the next attempt; throws when there must be none. */
  #retryDelay(plan: CallPlan, attempt: number, failed: AttemptFailed): number {
    const { error } = failed;
    if (attempt >= plan.maxAttempts || !mayRetry(error, plan.idempotent, failed.sent)) {
      throw markDownstream(error);
    }
    // this process's connection lost the reply: the next attempt waits for the reconnect itself,
    // and the budget, which keeps retries from storming an unwell callee, is not spent on it
    if (failed.disconnected) return 0;
    // a shed is one instance's quick "no": the queue group hands the retry to another instance,
    // so it goes at once (as Finagle requeues a nack); maxAttempts and the budget bound it
    const backoffMs =
      error.code === "OVERLOADED"
        ? 0
        : fullJitterDelayMs(attempt, plan.settings.retry.backoff.baseMs, plan.settings.retry.backoff.maxMs);
    const delayMs = Math.max(backoffMs, error.retryAfterMs ?? 0);
    if (monotonicNow() + delayMs >= plan.deadline) throw markDownstream(error);
    // a quota's Retry-After fits only when it leaves the retry at least as long as the wait: the
    // retry runs the whole handler again, and one squeezed into the deadline's last moments starts
    // work (stock reserved, a card charged) cut short as DEADLINE_EXCEEDED, where the denial was
    // the answer. (A dedupe CONFLICT's wait ends in a stored reply: it needs no such margin.)
    if (error.code === "QUOTA_EXCEEDED" && (error.retryAfterMs ?? 0) * 2 > remainingMs(plan.deadline)) {
      throw markDownstream(error);
    }
    if (!plan.budget.tryRetry()) {
      plan.span.addEvent(SpanEvent.RetryBudgetExhausted, {
        "mesh.attempt": attempt,
        "error.type": error.code,
      });
      // a refusal the caller caused (a tenant over its quota) stays what it is: as a spent budget
      // it would cross the next hop as UNAVAILABLE and count against a healthy callee there
      if (error.blame === "caller") throw markDownstream(error);
      throw markDownstream(
        new MeshError("RETRY_BUDGET_EXHAUSTED", `retry budget for ${plan.target.service} is spent`, {
          cause: error,
          details: { lastCode: error.code, attempts: attempt },
        }),
      );
    }
    return delayMs;
  }

  /** A retry is a span event, a metric and (at debug) a log line. */
  #recordRetry(plan: CallPlan, attempt: number, error: MeshError, delayMs: number): void {
    const { target } = plan;
    plan.span.addEvent(SpanEvent.Retry, {
      "mesh.attempt": attempt + 1,
      "error.type": error.code,
      "mesh.retry.delay_ms": delayMs,
    });
    this.#telemetry.retried(target, error.code, plan.tenant);
    if (this.#log.isLevelEnabled("debug")) {
      this.#log.debug(
        {
          service: target.service,
          endpoint: target.endpoint,
          tenant: plan.tenant,
          attempt,
          code: error.code,
          delayMs,
          ...traceFields(plan.span),
        },
        "retrying call",
      );
    }
  }

  /** The breakers of endpoints called in the last minute, for metrics. */
  breakerStates(): Iterable<CallStats> {
    return this.#breakers.recentStates();
  }

  /** The endpoint's counters, made on its first call; undefined once too many are counted. */
  #countersOf(target: CallTarget): CallCounters | undefined {
    let counters = this.#counters.get(target.subject);
    if (counters === undefined && this.#counters.size < MAX_COUNTED_TARGETS) {
      counters = new CallCounters(target.service, target.endpoint);
      this.#counters.set(target.subject, counters);
    }
    return counters;
  }

  /**
   * What `$SRV.STATS` tells of this process's calls (`mesh_calls`): per endpoint called, the
   * counts since start and the worst state among its breakers (plans with other breaker
   * parameters have their own); breakers of uncounted endpoints used in the last minute too.
   */
  callStats(): CallStats[] {
    const worst = this.#breakers.worstStates();
    const out: CallStats[] = [];
    for (const [subject, c] of this.#counters) {
      const key = `${c.service}/${c.endpoint}`;
      const stats = c.stats(worst.get(key)?.state ?? "closed");
      const ejected = this.#attempts?.ejectedOf(subject) ?? 0;
      out.push(ejected > 0 ? { ...stats, ejected } : stats);
      worst.delete(key);
    }
    for (const [key, { state, recent }] of worst) {
      if (!recent) continue;
      const [service = "", endpoint = ""] = key.split("/");
      out.push({ service, endpoint, breaker: state });
    }
    return out;
  }

  /**
   * One budget per target service and parameters: endpoints or plans with their own budget
   * parameters get their own, instead of resetting a shared one on every switch.
   */
  #budget(service: string, params: EffectiveSettings["retry"]["budget"]): RetryBudget {
    const key = `${service}|${params.ratio}|${params.minPerSecond}|${params.windowMs}`;
    // get, then set: getOrCreate would cost a closure per call
    let budget = this.#budgets.get(key);
    if (budget === undefined) {
      budget = new RetryBudget(params);
      this.#budgets.set(key, budget);
    }
    return budget;
  }

  /** What the target's calls use under `settings`, chosen again only when the settings change. */
  #chosenFor(target: CallTarget, settings: EffectiveSettings): Chosen {
    let chosen = this.#chosen.get(target);
    if (chosen === undefined || chosen.settings !== settings) {
      chosen = { settings, budget: this.#budget(target.service, settings.retry.budget), breaker: undefined };
      this.#chosen.set(target, chosen);
    }
    return chosen;
  }

  /** The endpoint's breaker for the call's settings (`BreakerRegistry` keeps one per parameters). */
  #breaker(target: CallTarget, settings: EffectiveSettings, now: number): CircuitBreaker {
    const chosen = this.#chosenFor(target, settings);
    // the registry forgets idle breakers: one it no longer holds is asked for again
    if (chosen.breaker !== undefined && this.#breakers.touch(chosen.breaker, now)) return chosen.breaker;
    chosen.breaker = this.#breakers.get(target.service, target.endpoint, settings.breaker);
    return chosen.breaker;
  }
}
