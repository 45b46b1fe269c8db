import type { Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import { AttemptFailed } from "../client/attempt.js";
import type { EffectiveSettings } from "../policy/resolved-settings.js";
import { monotonicNow } from "../resilience/clock.js";
import type { RetryBudget } from "../resilience/retry-budget.js";
import { mayRetry } from "../resilience/retry-decision.js";
import { type MeshTelemetry, SpanEvent } from "../telemetry/telemetry.js";
import type { AttemptOutcome, BalancedTarget, Balancer, Ejection, Instance } from "./balancer.js";
import { raceHedges, type Verdict } from "./hedge-race.js";

/** Sends one attempt to `subject` and settles it: the reply body, or an `AttemptFailed`. */
export type SendAttempt = (
  subject: string,
  attempt: number,
  signal: AbortSignal | undefined,
) => Promise<unknown | AttemptFailed>;

/** What routing needs of one logical call. */
export interface RoutedCall {
  readonly target: BalancedTarget;
  /** Where attempts go when no instance is picked: the plain or the chosen version's queue group. */
  readonly subject: string;
  /** The version a route chose; undefined: any. */
  readonly major: number | undefined;
  readonly settings: EffectiveSettings;
  readonly idempotent: boolean;
  readonly maxAttempts: number;
  readonly tenant: string | undefined;
  readonly budget: RetryBudget;
  readonly span: Span;
  readonly signal: AbortSignal | undefined;
}

/** Attempts that got no reply at all within their time: this caller's timeouts, not a callee's word. */
const unanswered = new WeakSet<AttemptFailed>();

/** The attempt timed out waiting for any reply (the client pipeline says so as it settles it). */
export function markUnanswered(failed: AttemptFailed): void {
  unanswered.add(failed);
}

/**
 * How a settled attempt bears on balancing. `silenceIsGone`: the broker gives no "no responders"
 * for a gone instance (it vouches identity: every call crosses an account import), so silence may
 * mean gone; asked only of a silent attempt.
 */
function outcomeOf(result: unknown, silenceIsGone: () => boolean): AttemptOutcome {
  if (!(result instanceof AttemptFailed)) return ANSWERED;
  const { error } = result;
  if (!result.sent || result.disconnected) return UNSENT;
  if (error.code === "NO_RESPONDERS") return GONE;
  if (error.code === "CANCELLED") return ABANDONED;
  if (unanswered.has(result)) return { kind: "silent", error, gone: silenceIsGone() };
  // a shed is load, which the latency average already weighs, not ill health
  return { kind: "answered", error, calleeFailure: error.blame === "callee" && error.code !== "OVERLOADED" };
}
const ANSWERED: AttemptOutcome = { kind: "answered", error: undefined, calleeFailure: false };
const UNSENT: AttemptOutcome = { kind: "unsent" };
const GONE: AttemptOutcome = { kind: "gone" };
const ABANDONED: AttemptOutcome = { kind: "abandoned" };

/** A result another hedge may still beat (a retryable failure), or one that ends the race. */
function verdictOf(result: unknown): Verdict {
  return result instanceof AttemptFailed && mayRetry(result.error, true, result.sent) ? "lose" : "final";
}

/**
 * Chooses where each attempt of a call goes, and runs hedged attempts: the narrow hook of the
 * client pipeline (step 4). With `balance: queue-group` and no hedging it is not used at all.
 */
export class AttemptRouter {
  readonly #balancer: Balancer;
  readonly #telemetry: MeshTelemetry;
  readonly #log: Logger;
  readonly #vouches: () => boolean;
  /** Services whose instance subjects the broker refused to this identity: queue group only. */
  readonly #refused = new Set<string>();

  /**
   * `vouches`: whether the broker vouches identity (an account per identity, `switchyard authz
   * render`). There membership comes through the callee's account alone (its `$SRV.INFO` export),
   * and a call to a gone instance crosses an import, which answers nothing rather than "no
   * responders": an unanswered attempt drops its instance until `$SRV` names it again.
   */
  constructor(balancer: Balancer, telemetry: MeshTelemetry, log: Logger, vouches: () => boolean) {
    this.#vouches = vouches;
    this.#balancer = balancer;
    this.#telemetry = telemetry;
    this.#log = log;
  }

  /**
   * Whether a call with these settings is routed here; false: straight to the queue group. A hedged
   * call is routed here under `queue-group` too, picking at random, so its hedges and retries go
   * to other instances than the attempts before them.
   */
  routes(settings: EffectiveSettings, idempotent: boolean): boolean {
    return settings.balance === "p2c-ewma" || (idempotent && settings.hedge.max > 0);
  }

  /** The route of one call, across its attempts. */
  begin(call: RoutedCall): CallRoute {
    return new CallRoute(this, call);
  }

  /** @internal of CallRoute; `now` from `monotonicNow`, read once for the pick and the attempt's start. */
  pick(call: RoutedCall, avoid: readonly Instance[] | undefined, now: number): Instance | undefined {
    if (this.#refused.size > 0 && this.#refused.has(call.target.service)) return undefined;
    return this.#balancer.pick(call.target, call.major, call.settings, avoid, now);
  }

  /**
   * @internal of CallRoute: an attempt to `instance` that left at `sentAt` settled at `now`; an
   * ejection is reported here. Returns true when the broker refused the instance's subject (the
   * attempt goes to the queue group).
   */
  settle(call: RoutedCall, instance: Instance, sentAt: number, now: number, result: unknown): boolean {
    if (!(result instanceof AttemptFailed)) {
      // a reply body: nearly every attempt, straight to the latency average and the outlier window
      this.#balancer.answered(call.settings, instance, now - sentAt, now);
      return false;
    }
    const ejection = this.#balancer.settle(
      call.target,
      call.major,
      call.settings,
      instance,
      now - sentAt,
      outcomeOf(result, this.#vouches),
      now,
    );
    if (ejection !== undefined) this.#ejected(call, ejection);
    if (result.error.code !== "PERMISSION_DENIED" || result.sent) return false;
    if (!this.#refused.has(call.target.service)) {
      this.#refused.add(call.target.service);
      this.#log.warn(
        { service: call.target.service },
        "the broker refuses this identity the instance subjects: balancing by the queue group",
      );
    }
    return true;
  }

  /** @internal of CallRoute */
  hedged(call: RoutedCall, attempt: number, instance: Instance | undefined): void {
    call.span.addEvent(SpanEvent.Hedge, {
      "mesh.attempt": attempt,
      ...(instance === undefined ? {} : { "mesh.instance": instance.id }),
    });
    this.#telemetry.hedged(call.target, call.tenant);
  }

  /** Instances of the endpoint at `subject` this caller has ejected now. */
  ejectedOf(subject: string): number {
    return this.#balancer.ejectedOf(subject);
  }

  #ejected(call: RoutedCall, { instance, forMs }: Ejection): void {
    call.span.addEvent(SpanEvent.OutlierEjected, { "mesh.instance": instance, "mesh.eject_ms": forMs });
    this.#telemetry.outlierEjected(call.target);
    this.#log.warn(
      { service: call.target.service, endpoint: call.target.endpoint, instance, forMs },
      "instance ejected from balancing: too many failures",
    );
  }
}

/** One call's attempts: where each went, so a retry or a hedge goes elsewhere. */
export class CallRoute {
  readonly #router: AttemptRouter;
  readonly #call: RoutedCall;
  /** The instance picked last: the only one tried until a second pick makes `#tried`. */
  #latest: Instance | undefined;
  /** Instances tried, the latest last; made on the second pick (most calls take one). */
  #tried: Instance[] | undefined;
  #last = 0;
  /** The unhedged attempt out now (`next`), and when it left (monotonic ms). */
  #sent: Instance | undefined;
  #sentAt = 0;

  constructor(router: AttemptRouter, call: RoutedCall) {
    this.#router = router;
    this.#call = call;
  }

  /** The number of the last attempt sent: hedges take numbers too. */
  get lastAttempt(): number {
    return this.#last;
  }

  /**
   * Whether attempt `first` is hedged, so it goes through `attempt`; otherwise the pipeline sends
   * it itself, to `next()`, and reports it to `settled` (no closure or promise of the router's).
   */
  hedges(first: number): boolean {
    return this.#hedgesAfter(first) > 0;
  }

  /** Where the next unhedged attempt goes: the picked instance's subject, else the call's queue group. */
  next(): string {
    const now = monotonicNow();
    const instance = this.#pick(now);
    this.#sent = instance;
    if (instance === undefined) return this.#call.subject;
    this.#sentAt = now;
    return instance.subject;
  }

  /**
   * The attempt `next()` sent settled. True when the broker refused this identity the instance's
   * subject: the pipeline sends the same attempt again, and `next()` now names the queue group.
   */
  settled(result: unknown): boolean {
    const instance = this.#sent;
    if (instance === undefined) return false;
    this.#sent = undefined;
    return this.#router.settle(this.#call, instance, this.#sentAt, monotonicNow(), result);
  }

  /**
   * Attempt `first`, hedged (`hedges(first)`): the reply body of the attempt that answered first,
   * or the failure that ended them all.
   */
  attempt(first: number, send: SendAttempt): Promise<unknown | AttemptFailed> {
    const call = this.#call;
    this.#last = first;
    return raceHedges(
      { afterMs: call.settings.hedge.afterMs, max: this.#hedgesAfter(first) },
      (index, signal) => {
        const attempt = first + index;
        this.#last = Math.max(this.#last, attempt);
        const abort = call.signal === undefined ? signal : AbortSignal.any([call.signal, signal]);
        return this.#one(attempt, send, abort, index > 0);
      },
      verdictOf,
      // hedges share the retry budget: extra load on an unwell service stays bounded
      () => call.budget.tryRetry(),
    );
  }

  /** Hedges attempt `first` may launch: none unless the call is idempotent. */
  #hedgesAfter(first: number): number {
    const call = this.#call;
    return call.idempotent ? Math.min(call.settings.hedge.max, call.maxAttempts - first) : 0;
  }

  #pick(now: number): Instance | undefined {
    const latest = this.#latest;
    if (latest !== undefined) this.#tried ??= [latest];
    const instance = this.#router.pick(this.#call, this.#tried, now);
    if (instance !== undefined) {
      if (latest !== undefined) this.#tried?.push(instance);
      this.#latest = instance;
    }
    return instance;
  }

  async #one(
    attempt: number,
    send: SendAttempt,
    signal: AbortSignal | undefined,
    hedge = false,
  ): Promise<unknown | AttemptFailed> {
    const startedAt = monotonicNow();
    const instance = this.#pick(startedAt);
    if (hedge) this.#router.hedged(this.#call, attempt, instance);
    if (instance === undefined) return send(this.#call.subject, attempt, signal);
    const result = await send(instance.subject, attempt, signal);
    const refused = this.#router.settle(this.#call, instance, startedAt, monotonicNow(), result);
    return refused ? send(this.#call.subject, attempt, signal) : result;
  }
}
