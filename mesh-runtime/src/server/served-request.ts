import type { Msg } from "@nats-io/nats-core";
import type { Span } from "@opentelemetry/api";
import type { CompiledPolicy, EffectiveSettings } from "../policy/effective-settings.js";
import { monotonicNow } from "../resilience/clock.js";
import type { ConcurrencyLimit } from "../resilience/concurrency-limit.js";
import type { SlotTable } from "../resilience/slot-table.js";
import type { RequestMeta } from "../wire/request-headers.js";
import type { RequestContext } from "./context.js";
import type { PipelineHost, ServedEndpoint } from "./served-endpoint.js";

/**
 * The requests one service instance is handling, found by a caller's cancel (`cancelKey`, compared
 * one by one: cancels are rare) and by `overrun()` (their deadlines).
 */
export type InFlight = SlotTable<ServedRequest>;

/**
 * One request on its way through the server pipeline: the steps fill it in, and the reply (of
 * either kind) and the clean-up read it. One object per request, instead of a closure per step.
 */
export class ServedRequest {
  readonly msg: Msg;
  readonly endpoint: ServedEndpoint;
  readonly host: PipelineHost;
  readonly inFlight: InFlight;
  /** Monotonic ms. */
  readonly arrivedAt: number;
  readonly policy: CompiledPolicy;
  readonly settings: EffectiveSettings;
  /** Monotonic ms; infinite for a refusal that is answered although late. */
  deadlineAt: number;
  meta: RequestMeta | undefined;
  /** `Mesh-Tenant` as sent; nothing counts it until the tenant step has checked it. */
  assertedTenant: string | undefined;
  span: Span | undefined;
  /** Exists, and takes cancels, from the access step on. */
  ctx: RequestContext | undefined;
  /** The key a cancel names the request by (`cancel-key.ts`); undefined when none can. */
  cancelKey: string | undefined;
  /** Its handle in `inFlight` from the first step on; -1 before. */
  inFlightHandle = -1;
  /** The concurrency slot held, released with the request's latency. */
  slot: ConcurrencyLimit | undefined;
  /** The fair-share bucket the slot belongs to. */
  slotBucket = "";
  input: unknown;
  succeeded = false;
  /** Ms from arrival to the reply of a success. */
  elapsedMs = 0;
  /** The handler overran its deadline: the request was failed and released then, not after it. */
  expired = false;

  constructor(msg: Msg, endpoint: ServedEndpoint, host: PipelineHost, inFlight: InFlight) {
    this.msg = msg;
    this.endpoint = endpoint;
    this.host = host;
    this.inFlight = inFlight;
    this.arrivedAt = monotonicNow();
    this.policy = host.policy();
    this.settings = endpoint.settings.get(this.policy, undefined);
    this.deadlineAt = this.arrivedAt + this.settings.timeoutMs;
  }
}

// A compile-time mark only: no value of it exists at run time.
declare const stage: unique symbol;

/**
 * A request that has passed the pipeline up to step `S`. Each step takes the previous step's mark
 * and returns its own, so skipping or reordering a step is a type error, at no run-time cost.
 */
type Passed<S extends string, Fields> = ServedRequest & Fields & { readonly [stage]?: S };

/** What the first step fills in; a refusal before it has none of it. */
interface Entered {
  readonly meta: RequestMeta;
  readonly span: Span;
  readonly ctx: RequestContext;
}

export type Timed = Passed<"deadline", Entered>;
export type Tenanted = Passed<"tenant", Entered>;
export type Allowed = Passed<"access", Entered>;
export type Admitted = Passed<"quota", Entered>;
export type Slotted = Passed<"concurrency", Entered>;
export type Drilled = Passed<"faults", Entered>;
export type Validated = Passed<"input", Entered>;
