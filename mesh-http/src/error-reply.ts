import { isExpectedRefusal, isMeshError, MeshError } from "@switchyard/runtime";
import type { FastifyBaseLogger, FastifyReply } from "fastify";

/**
 * Any throw as a MeshError: a MeshError as it is; Fastify's own refusals (a body past the limit,
 * a malformed URL) by their status; anything else is `INTERNAL` with `fallback` as its message.
 */
export function meshErrorOf(thrown: unknown, fallback: string, bodyLimitBytes: number): MeshError {
  if (isMeshError(thrown)) return thrown;
  const status = (thrown as { statusCode?: unknown } | null)?.statusCode;
  if (status === 413) {
    return new MeshError("PAYLOAD_TOO_LARGE", `the body exceeds ${bodyLimitBytes} bytes`, {
      details: { limitBytes: bodyLimitBytes },
    });
  }
  if (status === 404) return new MeshError("NOT_FOUND", (thrown as Error).message);
  if (typeof status === "number" && status >= 400 && status < 500)
    return new MeshError("INVALID_ARGUMENT", (thrown as Error).message, { cause: thrown });
  return new MeshError("INTERNAL", fallback, { cause: thrown });
}

/**
 * The HTTP answer to a MeshError: the code's status (or `status` where HTTP has a better word),
 * `Retry-After` in whole seconds when the mesh says when to retry, and the body
 * `{ error: { code, message, details? } }`.
 */
export function sendMeshError(
  reply: FastifyReply,
  error: MeshError,
  status: number = error.status,
): FastifyReply {
  const retryAfter = retryAfterOf(error);
  if (retryAfter !== undefined) reply.header("Retry-After", retryAfter);
  return reply.code(status).type("application/json").send({ error: error.toWire() });
}

/** What `sendMeshError` answers, for a server not on Fastify: status, `Retry-After`, JSON body. */
export interface MeshErrorAnswer {
  readonly status: number;
  /** Whole seconds, when the mesh says when to retry. */
  readonly retryAfter: string | undefined;
  /** JSON text: `{ error: { code, message, details? } }`. */
  readonly body: string;
}

export function meshErrorAnswer(error: MeshError, status: number = error.status): MeshErrorAnswer {
  return {
    status,
    retryAfter: retryAfterOf(error),
    body: JSON.stringify({ error: error.toWire() }),
  };
}

/**
 * Logs a 5xx answer as the edge does: a shed or an open breaker (the mesh protecting itself) at
 * info without a stack, anything else at error with its cause.
 */
export function logServerError(log: FastifyBaseLogger, name: string, error: MeshError, path: string): void {
  if (isExpectedRefusal(error)) log.info({ code: error.code, path }, error.message);
  else log.error({ err: error.cause ?? error, code: error.code, path }, `${name} request failed`);
}

function retryAfterOf(error: MeshError): string | undefined {
  return error.retryAfterMs === undefined
    ? undefined
    : String(Math.max(1, Math.ceil(error.retryAfterMs / 1_000)));
}
