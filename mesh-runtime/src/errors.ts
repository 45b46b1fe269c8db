import { type Blame, type ErrorBody, type ErrorCode, ErrorCodes, type Executed } from "@switchyard/schemas";

// A brand, not instanceof: two copies of this package in one process still recognise each other.
const BRAND = Symbol.for("switchyard.MeshError");

export interface MeshErrorOptions {
  /** The error that led to this one (kept locally, never sent on the wire). */
  readonly cause?: unknown;
  /** Structured, JSON-serialisable facts for the caller (zod issues, limits). */
  readonly details?: unknown;
  /** When the caller may try again, in ms (sent as `Mesh-Retry-After`). */
  readonly retryAfterMs?: number;
  /**
   * `maybe` when work may have been done although the code alone says it was not (a handler
   * passing on a downstream refusal); sent as `Mesh-Executed`. Default: the code's.
   */
  readonly executed?: Executed;
}

/**
 * The one error type of the mesh. `code` is a stable string from the protocol's table;
 * `retryable`, `status` and `blame` are read from that table, never decided at a throw site;
 * `executed` too, unless a handler ran before the error (see `MeshErrorOptions.executed`).
 */
export class MeshError extends Error {
  override readonly name: string = "MeshError";
  readonly code: ErrorCode;
  readonly details?: unknown;
  readonly retryAfterMs?: number;
  /** Whether the callee may have done work: decides whether a non-idempotent call may repeat. */
  readonly executed: Executed;

  constructor(code: ErrorCode, message: string, options: MeshErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.details !== undefined) this.details = options.details;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    // work done cannot be undone by saying so: only "maybe" overrides the table
    this.executed = options.executed === "maybe" ? "maybe" : ErrorCodes[code].executed;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** HTTP-like status of the code. */
  get status(): number {
    return ErrorCodes[this.code].status;
  }

  /** Whether the code allows another attempt at all (idempotency decides the rest). */
  get retryable(): boolean {
    return ErrorCodes[this.code].retry !== "no";
  }

  /** Whose fault it is: only `callee` errors say the callee is unwell (breakers, outliers). */
  get blame(): Blame {
    return ErrorCodes[this.code].blame;
  }

  /** The JSON body of an error reply: no stack, no cause. */
  toWire(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** True for any `MeshError`, even one from another copy of this package. */
export function isMeshError(value: unknown): value is MeshError {
  return typeof value === "object" && value !== null && BRAND in value;
}

// refusals the mesh's own protections make (a shed, a spent quota, a dependency failing fast):
// expected under overload, so they must stay cheap to log
const PROTECTIVE: ReadonlySet<ErrorCode> = new Set([
  "OVERLOADED",
  "QUOTA_EXCEEDED",
  "CIRCUIT_OPEN",
  "RETRY_BUDGET_EXHAUSTED",
]);

/**
 * True for a refusal the mesh's protections make (OVERLOADED, QUOTA_EXCEEDED, CIRCUIT_OPEN,
 * RETRY_BUDGET_EXHAUSTED, or one of them passed on as UNAVAILABLE): log it at info, without a stack.
 */
export function isExpectedRefusal(error: MeshError): boolean {
  return PROTECTIVE.has(error.code) || (isMeshError(error.cause) && PROTECTIVE.has(error.cause.code));
}

/** A request body over an endpoint's `maxRequestBytes` (policy), refused before it is decoded. */
export function payloadTooLarge(
  bytes: number,
  limit: number,
  target: { readonly service: string; readonly endpoint: string },
): MeshError {
  return new MeshError(
    "PAYLOAD_TOO_LARGE",
    `${target.service}.${target.endpoint} takes requests of at most ${limit} bytes, not ${bytes}`,
    { details: { limitBytes: limit, bytes } },
  );
}
