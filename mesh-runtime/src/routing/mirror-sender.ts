import { nuid } from "@nats-io/nats-core";
import { AttemptFailed, settleAttempt } from "../client/attempt.js";
import type { Requester } from "../client/requester.js";
import type { MeshTelemetry, SpanTarget } from "../telemetry/telemetry.js";
import { type OutboundMeta, writeRequestHeaders } from "../wire/request-headers.js";
import type { RouteDecision } from "./router.js";

/** What a mirrored copy carries of its call: the call's own headers, minus its attempt and key. */
export type MirroredMeta = Omit<
  OutboundMeta,
  "timeoutMs" | "attempt" | "idempotencyKey" | "mirror" | "route" | "criticality"
>;

/**
 * Sends mirrored copies of calls (policy `mirrors`) and forgets them: one attempt, its own
 * Idempotency-Key (a callee's replay store must never answer the real call with the copy's
 * reply, nor the copy with the real one's), `Mesh-Mirror: 1`, sheddable first. The reply is
 * read only for its outcome, counted in `mesh.client.mirrored`; the caller never sees it, and it
 * touches no breaker, retry budget or call counter of the real call.
 */
export class MirrorSender {
  readonly #requester: Requester;
  readonly #telemetry: MeshTelemetry;

  constructor(requester: Requester, telemetry: MeshTelemetry) {
    this.#requester = requester;
    this.#telemetry = telemetry;
  }

  /** Sends the copies `route` names, each with `timeoutMs` (the call's time left) at most. */
  send(
    target: SpanTarget,
    route: RouteDecision,
    payload: Uint8Array,
    timeoutMs: number,
    meta: MirroredMeta,
  ): void {
    if (timeoutMs < 1) return;
    for (const { major, subject } of route.mirrors) {
      const headers = writeRequestHeaders({
        ...meta,
        route: route.header,
        criticality: "sheddable",
        timeoutMs,
        attempt: 1,
        idempotencyKey: nuid.next(),
        mirror: true,
      });
      void this.#requester.send(subject, payload, headers, timeoutMs).then((sent) => {
        const result = settleAttempt(sent, subject, timeoutMs);
        this.#telemetry.mirrored(target, major, result instanceof AttemptFailed ? result.error.code : "OK");
      });
    }
  }
}
