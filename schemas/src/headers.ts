/**
 * Header names of wire protocol v1 (docs/PROTOCOL.md). Receivers read them case-insensitively;
 * senders use exactly these spellings.
 */
export const Header = {
  /** Remaining budget of the call in whole milliseconds, relative to when the message was sent. */
  Timeout: "Mesh-Timeout",
  Tenant: "Mesh-Tenant",
  /** A tenant token signed by a tenant issuer the policy names (`v1.<claims>.<signature>`). */
  TenantToken: "Mesh-Tenant-Token",
  /** The calling service; informational, identity is enforced by NATS credentials. */
  Caller: "Mesh-Caller",
  /** 1-based attempt number of one logical call. */
  Attempt: "Mesh-Attempt",
  /** `sheddable`, `default` or `critical`: which requests an overloaded callee sheds first (optional). */
  Criticality: "Mesh-Criticality",
  /**
   * The request chain's routing state (docs/PROTOCOL.md §19): route headers routes match on, and
   * the versions sticky routes pinned (`canary=1, @payments=2`). Every hop passes it on.
   */
  Route: "Mesh-Route",
  /** `1` on a mirrored copy of a request: its reply is discarded, nobody waits for it. */
  Mirror: "Mesh-Mirror",
  /** The same on every attempt of one logical call. */
  IdempotencyKey: "Idempotency-Key",
  ContentType: "Content-Type",
  /** The stable string error code on an error reply. */
  Error: "Mesh-Error",
  /**
   * `maybe` on an error reply whose code alone would promise that nothing ran (a downstream
   * QUOTA_EXCEEDED or OVERLOADED passed on by a handler that did run): the caller must not repeat
   * a non-idempotent call on the strength of the code.
   */
  Executed: "Mesh-Executed",
  /** Milliseconds the caller should wait before trying again. */
  RetryAfter: "Mesh-Retry-After",
  /** NATS micro (ADR-32) error description. */
  ServiceError: "Nats-Service-Error",
  /** NATS micro (ADR-32) numeric, HTTP-like error status. */
  ServiceErrorCode: "Nats-Service-Error-Code",
  TraceParent: "traceparent",
  TraceState: "tracestate",
  Baggage: "baggage",
} as const;
export type Header = (typeof Header)[keyof typeof Header];

/** The only content type of protocol v1; a request without `Content-Type` is JSON. */
export const JSON_CONTENT_TYPE = "application/json";

/** An `Idempotency-Key`: 1-128 visible ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** What `IDEMPOTENCY_KEY_PATTERN` accepts, as a loop for the hot path (as `isServiceName`). */
export function isIdempotencyKey(value: string): boolean {
  const length = value.length;
  if (length === 0 || length > 128) return false;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** The longest `Mesh-Tenant-Token` a receiver reads; a longer one is refused. */
export const MAX_TENANT_TOKEN_CHARS = 1_024;
