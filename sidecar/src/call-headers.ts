import { type CallOptions, MeshError } from "@switchyard/runtime";
import { MAX_CALL_TIMEOUT_MS } from "@switchyard/schemas";
import type { TraceHeaders } from "./trace-headers.js";

/** Header names of the sidecar's HTTP API besides the mesh's own (docs/SIDECAR.md). */
export const SidecarHeader = {
  /** The handled request a call out belongs to; given to the app with every forwarded request. */
  RequestId: "Mesh-Request-Id",
  /** `true` declares a call safe to repeat (as a contract's `idempotent`). */
  Idempotent: "Mesh-Idempotent",
  /** `true` or `false` on a forwarded request: whether a tenant issuer's token vouched for the tenant. */
  TenantVerified: "Mesh-Tenant-Verified",
  /** Epoch ms at which the caller stops waiting, on a forwarded request (`Mesh-Timeout` is relative). */
  Deadline: "Mesh-Deadline",
} as const;

/** A request's headers: lower-case names, a name given more than once with every value. */
export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/** What a call out's HTTP headers ask for. */
export interface CallHeaders {
  readonly options: CallOptions;
  readonly requestId: string | undefined;
  readonly tenantToken: string | undefined;
  readonly trace: TraceHeaders;
}

/**
 * Reads a call out's headers: `Mesh-Timeout` (whole ms), `Mesh-Tenant`, `Mesh-Tenant-Token`,
 * `Idempotency-Key`, `Mesh-Criticality`, `Mesh-Idempotent`, `Mesh-Request-Id` and the W3C trace
 * headers. A malformed one is `INVALID_ARGUMENT`; the runtime checks the values it takes
 * (tenant, key, criticality) as it does for a TypeScript caller.
 */
export function readCallHeaders(headers: RequestHeaders): CallHeaders {
  const options: Record<string, unknown> = {};
  const timeout = one(headers, "mesh-timeout");
  if (timeout !== undefined) {
    const ms = Number(timeout);
    if (!/^\d+$/.test(timeout) || ms < 1 || ms > MAX_CALL_TIMEOUT_MS) {
      throw new MeshError(
        "INVALID_ARGUMENT",
        `Mesh-Timeout must be whole milliseconds in [1, ${MAX_CALL_TIMEOUT_MS}]`,
      );
    }
    options["timeoutMs"] = ms;
  }
  const tenant = one(headers, "mesh-tenant");
  if (tenant !== undefined) options["tenant"] = tenant;
  const key = one(headers, "idempotency-key");
  if (key !== undefined) options["idempotencyKey"] = key;
  const criticality = one(headers, "mesh-criticality");
  if (criticality !== undefined) options["criticality"] = criticality;
  const idempotent = one(headers, "mesh-idempotent");
  if (idempotent !== undefined) {
    if (idempotent !== "true" && idempotent !== "false") {
      throw new MeshError("INVALID_ARGUMENT", "Mesh-Idempotent must be true or false");
    }
    options["idempotent"] = idempotent === "true";
  }
  const trace: TraceHeaders = {};
  for (const name of ["traceparent", "tracestate", "baggage"]) {
    const value = one(headers, name);
    if (value !== undefined) trace[name] = value;
  }
  return {
    options: options as CallOptions,
    requestId: one(headers, "mesh-request-id"),
    tenantToken: one(headers, "mesh-tenant-token"),
    trace,
  };
}

/** A header given once; twice is ambiguous, so refused. */
function one(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined || typeof value === "string") return value;
  if (value.length > 1) throw new MeshError("INVALID_ARGUMENT", `the ${name} header is given more than once`);
  return value[0];
}
