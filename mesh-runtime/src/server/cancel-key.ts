import type { Msg } from "@nats-io/nats-core";
import { CancelMessage, parseJsonMessage } from "@switchyard/schemas";
import type { RequestMeta } from "../wire/request-headers.js";
import { requestInfoOf, vouchedAccount } from "../wire/request-info.js";

/**
 * The key a request in flight is found under by a cancel (docs/PROTOCOL.md §16). On an open
 * broker it is the reply subject the caller chose. Under a vouching broker the callee sees only
 * the server's rewritten `_R_` reply, so it is the calling account, the call's Idempotency-Key
 * and the attempt: only a cancel the broker says comes from that account can name it. A request
 * without an Idempotency-Key cannot be cancelled there.
 */
export function requestCancelKey(reply: string, meta: RequestMeta, vouched: boolean): string | undefined {
  if (!vouched) return reply;
  if (!meta.callerVerified || meta.idempotencyKey === undefined) return undefined;
  // a space is in neither an account name nor an Idempotency-Key: the parts cannot run together
  return `${meta.caller} ${meta.idempotencyKey} ${meta.attempt}`;
}

/** The key a cancel message names, or undefined when it names nothing it may cancel. */
export function cancelKeyOf(msg: Msg, vouched: boolean): string | undefined {
  const parsed = parseJsonMessage(CancelMessage, msg.data);
  if (!parsed.success) return undefined;
  const { reply, idempotencyKey, attempt } = parsed.data;
  if (!vouched) return reply;
  if (idempotencyKey === undefined || attempt === undefined) return undefined;
  let account: string;
  try {
    account = vouchedAccount(requestInfoOf(msg));
  } catch {
    return undefined; // unvouched (bounced) cancels are ignored, like any cancel that matches nothing
  }
  return `${account} ${idempotencyKey} ${attempt}`;
}
