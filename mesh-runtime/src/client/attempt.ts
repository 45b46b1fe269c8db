import { MeshError } from "../errors.js";
import { decodeErrorReply, isErrorReply } from "../wire/error-reply.js";
import { decodeJson } from "../wire/json-codec.js";
import { isSendFailure, type SendFailure, type SendResult } from "./requester.js";

/** A failed attempt: the typed error, and whether the request may have reached a callee. */
export class AttemptFailed {
  constructor(
    readonly error: MeshError,
    readonly sent: boolean,
    /** The reply subject of an attempt the caller gave up on after sending it. */
    readonly abandonedReply?: string,
    /** This process lost its NATS connection: the failure says nothing about the callee. */
    readonly disconnected = false,
  ) {}
}

function failureError(failure: SendFailure, subject: string, timeoutMs: number): MeshError {
  switch (failure.kind) {
    case "no-responders":
      return new MeshError("NO_RESPONDERS", `no instance is listening on ${subject}`);
    case "timeout":
      return new MeshError("DEADLINE_EXCEEDED", `no reply on ${subject} within ${timeoutMs} ms`);
    case "cancelled":
    case "abandoned":
      return new MeshError("CANCELLED", `the call to ${subject} was aborted`);
    case "disconnected":
      return new MeshError("UNAVAILABLE", `disconnected from NATS while calling ${subject}`);
    case "closed":
      return new MeshError("UNAVAILABLE", `the mesh connection is closed (calling ${subject})`);
    case "too-large":
      return new MeshError("PAYLOAD_TOO_LARGE", `request to ${subject} exceeds ${failure.limit} bytes`, {
        details: { limitBytes: failure.limit },
      });
    case "refused":
      return new MeshError("PERMISSION_DENIED", `this service may not call ${subject} (refused by NATS)`);
    case "publish-failed":
      return new MeshError("UNAVAILABLE", `could not publish to ${subject}`, { cause: failure.cause });
  }
}

/**
 * Turns what one attempt got back into the decoded reply body, or an `AttemptFailed`. Runs in
 * the awaiting call, so an error built here carries the application's async stack.
 */
export function settleAttempt(
  result: SendResult,
  subject: string,
  timeoutMs: number,
): unknown | AttemptFailed {
  if (isSendFailure(result)) {
    return new AttemptFailed(
      failureError(result, subject, timeoutMs),
      result.sent,
      result.kind === "abandoned" ? result.reply : undefined,
      result.kind === "disconnected",
    );
  }
  if (isErrorReply(result)) return new AttemptFailed(decodeErrorReply(result), true);
  try {
    return decodeJson(result.data);
  } catch (error) {
    // the callee answered, so it ran: a reply we cannot read is its fault, not ours
    return new AttemptFailed(
      new MeshError("INTERNAL", `unreadable reply from ${subject}`, { cause: error }),
      true,
    );
  }
}
