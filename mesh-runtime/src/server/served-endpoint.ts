import type { EndpointSpec } from "@switchyard/schemas";
import type { z } from "zod";
import type { DedupeStore } from "../dedupe/dedupe-store.js";
import type { EndpointCounters } from "../discovery/responder.js";
import type { CompiledPolicy } from "../policy/effective-settings.js";
import type { SettingsCache } from "../policy/settings-cache.js";
import type { QuotaRule } from "../quota/quota-rules.js";
import type { RepeatedLines } from "../telemetry/repeated-lines.js";
import type { MeshTelemetry } from "../telemetry/telemetry.js";
import type { ContextHost, HandlerContext } from "./context.js";
import type { EndpointLimit } from "./endpoint-limit.js";

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
  /**
   * Whether the broker vouches identity (it requires authentication: accounts per identity), so
   * the caller is the account in `Nats-Request-Info` rather than `Mesh-Caller`.
   */
  vouchesIdentity(): boolean;
  /** The replay store of deduplicated endpoints; undefined without Redis. */
  dedupe(): DedupeStore | undefined;
  readonly telemetry: MeshTelemetry;
  /** Rate-limits the failure lines of requests (a shed storm must not become a log storm). */
  readonly repeatedLines: RepeatedLines;
}
