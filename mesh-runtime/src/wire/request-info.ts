import type { Msg } from "@nats-io/nats-core";
import { isServiceName } from "@switchyard/schemas";
import { BoundedCache } from "../bounded-cache.js";
import { MeshError } from "../errors.js";
import { headerText } from "./raw-headers.js";

/** The header nats-server writes into a request that crossed a service import (`acc`, `rtt`, more with `share`). */
export const REQUEST_INFO_HEADER = "nats-request-info";

/** Real ones are ~40 bytes, ~300 with `share` (research-14 §1): anything far larger is not the server's. */
const MAX_REQUEST_INFO = 4_096;

// The header describes the sender's connection, not the request (account, user, client id, rtt):
// every request on one connection carries the same text, so each distinct text is parsed once.
const vouched = new BoundedCache<string, string>(1_024);

function unauthenticated(message: string): MeshError {
  return new MeshError("UNAUTHENTICATED", message, { details: { header: "Nats-Request-Info" } });
}

/**
 * The calling account named by a `Nats-Request-Info` header, which the broker writes (and
 * overwrites when a sender forged one) into a request crossing a service import. Throws
 * `UNAUTHENTICATED` when the header cannot be trusted: oversized, not JSON, no `acc` that is an
 * identity name, or a `svc` field. The server adds `svc` only when a message crossed a second
 * import (a reply bounced into another import), keeping the first hop's info as the sender left
 * it: such a request is not what any caller asked for (docs/PROTOCOL.md §3).
 */
export function vouchedAccount(value: string | undefined): string {
  if (value === undefined) throw unauthenticated("the broker did not say who sent this request");
  const known = vouched.get(value);
  if (known !== undefined) return known;
  if (value.length > MAX_REQUEST_INFO) throw unauthenticated("the Nats-Request-Info header is too long");
  let info: unknown;
  try {
    info = JSON.parse(value);
  } catch {
    throw unauthenticated("the Nats-Request-Info header is not JSON");
  }
  if (typeof info !== "object" || info === null)
    throw unauthenticated("the Nats-Request-Info header is not an object");
  const { acc, svc } = info as { acc?: unknown; svc?: unknown };
  if (svc !== undefined) throw unauthenticated("the request crossed more than one service import");
  if (typeof acc !== "string" || !isServiceName(acc)) {
    throw unauthenticated("the broker's Nats-Request-Info names no identity account");
  }
  vouched.set(value, acc);
  return acc;
}

const BROKER_LINE = "\r\nNats-Request-Info: ";
/** A header line of that name in any case or spacing, as a reader of first values would take it. */
const ANY_COPY = /\r\n[ \t]*nats-request-info[ \t]*:/i;

/**
 * The `Nats-Request-Info` the broker wrote into a header block ("NATS/1.0\r\n…\r\n\r\n"), or
 * undefined when the block has none. nats-server appends its own as the block's last line, after
 * the sender's headers, and removes only the first sender line spelled exactly `Nats-Request-Info`:
 * a second copy, or one in another case or spacing, survives, ahead of the broker's, where a
 * reader taking the first value would believe it. So the value is taken from the last line only,
 * spelled as the broker writes it, and a block with any other line of that name is refused with
 * `UNAUTHENTICATED`: its sender tried to name another caller.
 */
export function brokerRequestInfo(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  // the block ends with its last line's CRLF and an empty line's
  let end = text.length;
  while (end >= 2 && text.startsWith("\r\n", end - 2)) end -= 2;
  const last = text.lastIndexOf("\r\n", end - 1);
  if (last !== -1 && text.startsWith(BROKER_LINE, last)) {
    if (ANY_COPY.test(text.slice(0, last))) throw forged();
    return text.slice(last + BROKER_LINE.length, end).trim();
  }
  if (ANY_COPY.test(text)) throw forged();
  return undefined;
}

const forged = () => unauthenticated("the request carries a Nats-Request-Info that the broker did not write");

/** The broker's `Nats-Request-Info` of a message (`brokerRequestInfo`), or undefined when it has none. */
export function requestInfoOf(msg: Msg): string | undefined {
  return brokerRequestInfo(headerText(msg));
}

/**
 * The account the broker says sent `msg` (a message that crossed a service import),
 * from its `Nats-Request-Info`; undefined when it carries none, so it was published inside the
 * receiver's own account. Throws `UNAUTHENTICATED` when the header is there but cannot be trusted.
 * Meaningful only where the broker vouches identity (`Mesh.vouchesIdentity`).
 */
export function senderAccount(msg: Msg): string | undefined {
  const info = requestInfoOf(msg);
  return info === undefined ? undefined : vouchedAccount(info);
}
