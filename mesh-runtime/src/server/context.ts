import { type Context, isSpanContextValid, ROOT_CONTEXT, type Span, trace } from "@opentelemetry/api";
import type { Contract } from "@switchyard/schemas";
import type { Logger } from "pino";
import type { ParentRequest } from "../client/call-pipeline.js";
import type { ContractClient } from "../client/typed-client.js";
import { MeshError } from "../errors.js";
import type { CallOptionsInput } from "../options.js";
import { monotonicNow } from "../resilience/clock.js";
import { remainingMs, toEpochMs } from "../resilience/deadline.js";
import { traceFields } from "../telemetry/telemetry.js";
import type { RequestMeta } from "../wire/request-headers.js";

/** What a handler gets besides its input. */
export interface HandlerContext {
  readonly service: string;
  readonly endpoint: string;
  /**
   * The tenant the request is served for: the one its tenant token vouches for, else (under
   * `tenants.require: asserted`) `Mesh-Tenant`; undefined when the caller named none.
   */
  readonly tenant: string | undefined;
  /** Whether a tenant issuer's token vouched for `tenant` (false: only asserted). */
  readonly tenantVerified: boolean;
  /**
   * The calling service: the account the broker vouches for when it requires authentication,
   * else what `Mesh-Caller` asserts. Undefined when an open-broker caller named none.
   */
  readonly caller: string | undefined;
  /** True when the broker vouched for `caller`; false when the caller only asserted it. */
  readonly callerVerified: boolean;
  /** 1-based attempt of the caller's logical call. */
  readonly attempt: number;
  /**
   * True for a copy a policy mirror sent (`Mesh-Mirror: 1`): nobody reads the reply, so a handler
   * may skip side effects it must not repeat (docs/POLICY.md#mirrors).
   */
  readonly mirrored: boolean;
  /** The same on every attempt of one logical call. */
  readonly idempotencyKey: string | undefined;
  /** When the caller stops waiting, in epoch ms. */
  readonly deadline: number;
  /** Ms left until the deadline, never negative. */
  remainingMs(): number;
  /** Aborts at the deadline (`DEADLINE_EXCEEDED` reason) or when the caller cancels (`CANCELLED`). */
  readonly signal: AbortSignal;
  /**
   * A pino child bound to service, endpoint, tenant, caller, callerVerified, attempt, `trace_id`
   * and `span_id`.
   */
  readonly log: Logger;
  /** Calls another endpoint with this request's tenant, remaining deadline and trace context. */
  call(service: string, endpoint: string, input?: unknown, options?: CallOptionsInput): Promise<unknown>;
  /** A typed client whose calls inherit like `call()`. */
  client<C extends Contract>(contract: C): ContractClient<C>;
}

/** What the context needs from the mesh it runs in. */
export interface ContextHost {
  readonly log: Logger;
  callFrom(
    parent: ParentRequest,
    service: string,
    endpoint: string,
    input: unknown,
    options: CallOptionsInput | undefined,
  ): Promise<unknown>;
  clientFrom<C extends Contract>(parent: ParentRequest, contract: C): ContractClient<C>;
}

/**
 * The per-request context. The abort signal, its timer, the child logger and the trace context
 * holding the request's span cost an allocation each, so they are made on first use: most
 * handlers never touch the first three, and without a trace there is nothing to hold.
 */
export class RequestContext implements HandlerContext, ParentRequest {
  readonly service: string;
  readonly endpoint: string;
  /** Monotonic deadline; `ParentRequest` reads it. */
  readonly deadlineAt: number;
  readonly #parentContext: Context;
  #traceContext: Context | undefined;
  readonly #meta: RequestMeta;
  readonly #span: Span;
  readonly #host: ContextHost;
  #controller: AbortController | undefined;
  /** The caller gave up before the signal was read. */
  #cancelled = false;
  #timer: NodeJS.Timeout | undefined;
  #log: Logger | undefined;

  constructor(
    service: string,
    endpoint: string,
    meta: RequestMeta,
    deadlineAt: number,
    host: ContextHost,
    parentContext: Context,
    span: Span,
  ) {
    this.service = service;
    this.endpoint = endpoint;
    this.deadlineAt = deadlineAt;
    this.#meta = meta;
    this.#host = host;
    this.#parentContext = parentContext;
    this.#span = span;
  }

  /** The context holding the request's SERVER span (`parentContext` is the caller's, as read). */
  get traceContext(): Context {
    if (this.#traceContext === undefined) {
      // an invalid span (no SDK and no trace from the caller) gives children nothing to join
      this.#traceContext =
        this.#parentContext === ROOT_CONTEXT && !isSpanContextValid(this.#span.spanContext())
          ? ROOT_CONTEXT
          : trace.setSpan(this.#parentContext, this.#span);
    }
    return this.#traceContext;
  }

  get tenant() {
    return this.#meta.tenant;
  }
  get tenantVerified() {
    return this.#meta.tenantVerified;
  }
  /** The token that vouched for the tenant, passed on unchanged by `call()`. */
  get tenantToken() {
    return this.#meta.tenantVerified ? this.#meta.tenantToken : undefined;
  }
  get caller() {
    return this.#meta.caller;
  }
  /** The request's `Mesh-Route`, passed on by `call()` so routes hold through the chain. */
  get route() {
    return this.#meta.route;
  }
  get callerVerified() {
    return this.#meta.callerVerified;
  }
  get attempt() {
    return this.#meta.attempt;
  }
  get mirrored() {
    return this.#meta.mirrored;
  }
  get idempotencyKey() {
    return this.#meta.idempotencyKey;
  }
  get deadline(): number {
    return toEpochMs(this.deadlineAt);
  }

  remainingMs(): number {
    return remainingMs(this.deadlineAt);
  }

  get signal(): AbortSignal {
    return this.#abortController().signal;
  }

  /**
   * The caller gave up: abort the signal with CANCELLED (downstream calls made with it follow).
   * A signal nobody has read yet is not made for it: a later read finds it aborted.
   */
  cancel(): void {
    const controller = this.#controller;
    if (controller === undefined) this.#cancelled = true;
    else if (!controller.signal.aborted) controller.abort(this.#cancelReason());
  }

  #cancelReason(): MeshError {
    return new MeshError("CANCELLED", `the caller of ${this.service}.${this.endpoint} gave up`);
  }

  /**
   * The deadline passed while the handler runs: abort the signal with DEADLINE_EXCEEDED (if the
   * handler has one; its own timer may not have fired yet when the request is released).
   */
  expire(): void {
    const controller = this.#controller;
    if (controller !== undefined && !controller.signal.aborted) {
      controller.abort(
        new MeshError("DEADLINE_EXCEEDED", `deadline of ${this.service}.${this.endpoint} passed`),
      );
    }
  }

  #abortController(): AbortController {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      const left = this.deadlineAt - monotonicNow();
      if (this.#cancelled) this.#controller.abort(this.#cancelReason());
      else if (left <= 0) this.expire();
      else this.#timer = setTimeout(() => this.expire(), left);
    }
    return this.#controller;
  }

  get log(): Logger {
    this.#log ??= this.#host.log.child({
      service: this.service,
      endpoint: this.endpoint,
      tenant: this.#meta.tenant,
      tenantVerified: this.#meta.tenantVerified,
      caller: this.#meta.caller,
      callerVerified: this.#meta.callerVerified,
      attempt: this.#meta.attempt,
      ...traceFields(this.#span),
    });
    return this.#log;
  }

  call(service: string, endpoint: string, input?: unknown, options?: CallOptionsInput): Promise<unknown> {
    return this.#host.callFrom(this, service, endpoint, input, options);
  }

  client<C extends Contract>(contract: C): ContractClient<C> {
    return this.#host.clientFrom(this, contract);
  }

  /** The request is answered: stop the deadline timer. */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}
