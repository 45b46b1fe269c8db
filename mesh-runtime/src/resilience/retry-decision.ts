import { ErrorCodes } from "@switchyard/schemas";
import type { MeshError } from "../errors.js";

/**
 * May this failed attempt be tried again? The code must allow a retry at all; then either the
 * endpoint is idempotent, or the request provably did not run: it was never sent, or the error
 * promises the callee did no work (NO_RESPONDERS, OVERLOADED, QUOTA_EXCEEDED... unless a handler
 * passed it on after doing work of its own: `Mesh-Executed: maybe`).
 * `after-delay` codes retry only when the callee said when.
 */
export function mayRetry(error: MeshError, idempotent: boolean, sent: boolean): boolean {
  const spec = ErrorCodes[error.code];
  if (spec.retry === "no") return false;
  if (spec.retry === "after-delay" && error.retryAfterMs === undefined) return false;
  return idempotent || !sent || error.executed === "no";
}
