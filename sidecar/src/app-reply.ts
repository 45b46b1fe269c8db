import { MeshError } from "@switchyard/runtime";
import { codeForStatus, type ErrorCode, isErrorCode } from "@switchyard/schemas";

/** What the app answered to a forwarded request. */
export interface AppAnswer {
  readonly status: number;
  readonly body: string;
  /** `Retry-After` (whole seconds), as the app sent it. */
  readonly retryAfter?: string | undefined;
  /** `Mesh-Retry-After` (ms), as the app sent it: wins over `Retry-After`. */
  readonly meshRetryAfter?: string | undefined;
}

// codes whose "nothing ran" promise only the sidecar can make: from the app, whose handler did
// run, they are passed-on refusals of a call it made
const RAN_BEFORE: ReadonlySet<ErrorCode> = new Set(["OVERLOADED", "NO_RESPONDERS", "QUOTA_EXCEEDED"]);

/**
 * The mesh reply for an app's answer: a 2xx body is the output (empty is `null`); any other status
 * is a `MeshError`. The code is the one the app's JSON body names (`{ "error": { "code", "message",
 * "details" } }` as the sidecar and the gateway send, or `{ "code", ... }`), else the status's
 * (`codeForStatus`: 404 NOT_FOUND, 409 CONFLICT, 422 FAILED_PRECONDITION, 429 QUOTA_EXCEEDED,
 * 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, other 4xx INVALID_ARGUMENT, other 5xx INTERNAL).
 */
export function meshReplyOf(answer: AppAnswer, what: string): unknown {
  if (answer.status >= 200 && answer.status < 300) {
    if (answer.body.length === 0) return null;
    try {
      return JSON.parse(answer.body);
    } catch (cause) {
      throw new MeshError(
        "INTERNAL",
        `${what}: the app answered ${answer.status} with a body that is not JSON`,
        {
          cause,
        },
      );
    }
  }
  throw appError(answer, what);
}

function appError(answer: AppAnswer, what: string): MeshError {
  const named = namedError(answer.body);
  const code = named?.code ?? (answer.status >= 400 ? codeForStatus(answer.status) : "INTERNAL");
  const message = named?.message ?? `${what}: the app answered ${answer.status}`;
  const retryAfterMs = retryAfterOf(answer);
  return new MeshError(code, message, {
    ...(named?.details === undefined ? {} : { details: named.details }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(RAN_BEFORE.has(code) ? { executed: "maybe" as const } : {}),
  });
}

interface NamedError {
  readonly code: ErrorCode;
  readonly message: string | undefined;
  readonly details: unknown;
}

/** The error the body names, if it names one this protocol knows (and may cross the wire). */
function namedError(body: string): NamedError | undefined {
  if (body.length === 0 || body.length > 65_536) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const outer = json as { error?: unknown } | null;
  const inner = (typeof outer?.error === "object" && outer.error !== null ? outer.error : json) as {
    code?: unknown;
    message?: unknown;
    details?: unknown;
  } | null;
  if (inner === null || typeof inner !== "object" || !isErrorCode(inner.code)) return undefined;
  return {
    code: inner.code,
    message: typeof inner.message === "string" ? inner.message : undefined,
    details: inner.details,
  };
}

function retryAfterOf(answer: AppAnswer): number | undefined {
  const ms = Number(answer.meshRetryAfter);
  if (answer.meshRetryAfter !== undefined && Number.isInteger(ms) && ms >= 0) return ms;
  const seconds = Number(answer.retryAfter);
  if (answer.retryAfter !== undefined && Number.isFinite(seconds) && seconds >= 0)
    return Math.round(seconds * 1_000);
  return undefined;
}
