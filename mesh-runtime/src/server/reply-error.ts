import { ErrorCodes } from "@switchyard/schemas";
import { isMeshError, MeshError } from "../errors.js";

// Errors the client raised for a downstream call. This handler ran before it failed with one, so
// the error's "nothing ran" promise (if its code makes one) is not true of this request.
const fromDownstream = new WeakSet<MeshError>();

/** Marks an error the client raised for a call this process made (see `toReplyError`). */
export function markDownstream(error: MeshError): MeshError {
  fromDownstream.add(error);
  return error;
}

/**
 * What a handler's throw becomes on the wire. Unknown throws are `INTERNAL` (their message stays
 * in the log). A downstream error keeps its code end to end, so a tenant's QUOTA_EXCEEDED three
 * hops down reaches the edge as a 429 with its Retry-After, and its blame stays with the tenant;
 * but this handler ran, so a code that promises no work was done is sent with `executed: maybe`.
 * Local-only codes (CIRCUIT_OPEN, RETRY_BUDGET_EXHAUSTED, CANCELLED) cannot cross the wire: they
 * become `UNAVAILABLE`, a dependency of this service being unwell.
 */
export function toReplyError(thrown: unknown): MeshError {
  if (!isMeshError(thrown)) {
    return new MeshError("INTERNAL", "the handler failed", { cause: thrown });
  }
  if (!ErrorCodes[thrown.code].wire) {
    return new MeshError("UNAVAILABLE", `a dependency failed: ${thrown.message}`, {
      cause: thrown,
      executed: "maybe",
      details: { dependencyCode: thrown.code },
    });
  }
  if (!fromDownstream.has(thrown) || thrown.executed === "maybe") return thrown;
  return new MeshError(thrown.code, thrown.message, {
    cause: thrown,
    executed: "maybe",
    ...(thrown.details === undefined ? {} : { details: thrown.details }),
    ...(thrown.retryAfterMs === undefined ? {} : { retryAfterMs: thrown.retryAfterMs }),
  });
}
