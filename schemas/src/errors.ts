/**
 * Whether a caller may try again: `no` never; `yes` when the call is safe to repeat (see
 * `executed`); `after-delay` only after `Mesh-Retry-After`, and only when that fits the deadline.
 */
export type RetryClass = "no" | "yes" | "after-delay";

/**
 * Whether the callee may have run the request's handler. `no` is a promise the callee makes
 * (it shed or refused the request before any work), so even a non-idempotent call may repeat it;
 * after `maybe` only an idempotent call repeats.
 */
export type Executed = "no" | "maybe";

/**
 * Whose fault the error is: `caller` (the request, its caller or its tenant: a bad input, a spent
 * quota, a refused identity) or `callee` (the service or what it depends on is unwell). Only
 * `callee` errors count against a caller's circuit breaker, wherever in a chain they arose.
 */
export type Blame = "caller" | "callee";

export interface ErrorCodeSpec {
  /** HTTP-like status, also sent as `Nats-Service-Error-Code`. */
  readonly status: number;
  readonly retry: RetryClass;
  readonly executed: Executed;
  readonly blame: Blame;
  /** False for codes that never cross the wire (the caller's runtime raises them). */
  readonly wire: boolean;
  readonly meaning: string;
}

/**
 * The error-code table of protocol v1. Codes are stable: never reused, never renamed.
 * docs/ERRORS.md and docs/PROTOCOL.md are drift-tested against it.
 */
export const ErrorCodes = {
  INVALID_ARGUMENT: {
    status: 400,
    retry: "no",
    executed: "no",
    blame: "caller",
    wire: true,
    meaning: "The request is malformed: not JSON, a bad header, or input failing the schema.",
  },
  UNAUTHENTICATED: {
    status: 401,
    retry: "no",
    executed: "no",
    blame: "caller",
    wire: true,
    meaning: "The caller or tenant could not be identified.",
  },
  PERMISSION_DENIED: {
    status: 403,
    retry: "no",
    executed: "no",
    blame: "caller",
    wire: true,
    meaning: "The caller is not allowed to call this endpoint.",
  },
  NOT_FOUND: {
    status: 404,
    retry: "no",
    executed: "no",
    blame: "caller",
    wire: true,
    meaning: "The endpoint, or the thing the request names, does not exist.",
  },
  CONFLICT: {
    status: 409,
    retry: "after-delay",
    executed: "no",
    blame: "caller",
    wire: true,
    meaning: "The request conflicts with current state; it may succeed later.",
  },
  FAILED_PRECONDITION: {
    status: 422,
    retry: "no",
    executed: "no",
    blame: "caller",
    wire: true,
    meaning: "The request is valid but cannot be done in the current state (a card declined).",
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    retry: "no",
    executed: "no",
    blame: "caller",
    wire: true,
    meaning: "The request exceeds a size limit; it was not sent, or not decoded.",
  },
  QUOTA_EXCEEDED: {
    status: 429,
    retry: "after-delay",
    executed: "no",
    blame: "caller",
    wire: true,
    meaning: "The tenant's quota is spent; retry after Mesh-Retry-After.",
  },
  INTERNAL: {
    status: 500,
    retry: "yes",
    executed: "maybe",
    blame: "callee",
    wire: true,
    meaning: "The handler failed unexpectedly; it may have done part of its work.",
  },
  OVERLOADED: {
    status: 503,
    retry: "yes",
    executed: "no",
    blame: "callee",
    wire: true,
    meaning: "The instance shed the request before doing any work.",
  },
  NO_RESPONDERS: {
    status: 503,
    retry: "yes",
    executed: "no",
    blame: "callee",
    wire: true,
    meaning: "No instance of the service received the request.",
  },
  UNAVAILABLE: {
    status: 503,
    retry: "yes",
    executed: "maybe",
    blame: "callee",
    wire: true,
    meaning: "The service or one of its dependencies is unavailable for now.",
  },
  DEADLINE_EXCEEDED: {
    status: 504,
    retry: "yes",
    executed: "maybe",
    blame: "callee",
    wire: true,
    meaning: "The deadline passed before a reply; the request may still have executed.",
  },
  CIRCUIT_OPEN: {
    status: 503,
    retry: "no",
    executed: "no",
    blame: "callee",
    wire: false,
    meaning: "The caller's circuit breaker for this endpoint is open; the call was not sent.",
  },
  CANCELLED: {
    status: 499,
    retry: "no",
    executed: "maybe",
    blame: "caller",
    wire: false,
    meaning: "The caller aborted the call.",
  },
  RETRY_BUDGET_EXHAUSTED: {
    status: 503,
    retry: "no",
    executed: "maybe",
    blame: "callee",
    wire: false,
    meaning: "A retry was due but the retry budget was spent; the cause holds the last error.",
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ErrorCodes;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ErrorCodes, value);
}

/**
 * The closest code for a numeric status from a peer that sent no `Mesh-Error` (a plain NATS
 * micro service) or a code this version does not know.
 */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "CONFLICT";
    case 413:
      return "PAYLOAD_TOO_LARGE";
    case 422:
      return "FAILED_PRECONDITION";
    case 429:
      return "QUOTA_EXCEEDED";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return status >= 400 && status < 500 ? "INVALID_ARGUMENT" : "INTERNAL";
  }
}
