import { ErrorCodes } from "@switchyard/schemas";
import { isMeshError, MeshError } from "../errors.js";
import { mayRetry } from "../resilience/retry-decision.js";

// Errors the client raised for a downstream call. The server boundary must not pass their
// "nobody ran it" codes upstream as if they were true of its own request.
const fromDownstream = new WeakSet<MeshError>();

/** Marks an error the client raised for a call this process made (see `toReplyError`). */
export function markDownstream(error: MeshError): MeshError {
  fromDownstream.add(error);
  return error;
}

/**
 * What a handler's throw becomes on the wire. Unknown throws are `INTERNAL` (their message stays
 * in the log). A downstream error whose code promises the callee did no work (NO_RESPONDERS,
 * OVERLOADED, QUOTA_EXCEEDED with a retry-after...) would be false of this request, since this
 * handler ran: it becomes `UNAVAILABLE`, as does any local-only code.
 */
export function toReplyError(thrown: unknown): MeshError {
  if (!isMeshError(thrown)) {
    return new MeshError("INTERNAL", "the handler failed", { cause: thrown });
  }
  // misleading: a local-only code, or one that would let our caller repeat a non-idempotent call
  const misleading =
    !ErrorCodes[thrown.code].wire || (fromDownstream.has(thrown) && mayRetry(thrown, false, true));
  if (!misleading) return thrown;
  return new MeshError("UNAVAILABLE", `a dependency failed: ${thrown.message}`, {
    cause: thrown,
    details: { dependencyCode: thrown.code },
  });
}
