import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { nuid } from "@nats-io/nats-core";
import type { Call } from "./measure.js";

/**
 * Floor a: `nc.request()` as a user writes it, with default options: nats.js's muxed inbox, its
 * per-request timer and its per-request `Error` for async stack traces.
 */
export function natsRequestFloor(
  nc: NatsConnection,
  subject: string,
  payload: Uint8Array,
  timeoutMs: number,
): Call {
  return () => nc.request(subject, payload, { timeout: timeoutMs });
}

/**
 * Floor b: the least a Node client can do for request/reply. One wildcard inbox subscription with
 * a callback, a publish per request with reply subject `<prefix><counter>`, a map from token to
 * resolver. No headers, no timer, no error path: it measures the transport, not a client.
 */
export class BareInboxFloor {
  readonly #nc: NatsConnection;
  readonly #prefix = `_INBOX.bench.${nuid.next()}.`;
  readonly #pending = new Map<string, (msg: Msg) => void>();
  #seq = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    const prefixLength = this.#prefix.length;
    nc.subscribe(`${this.#prefix}*`, {
      callback: (_err, msg) => {
        const token = msg.subject.slice(prefixLength);
        const resolve = this.#pending.get(token);
        if (resolve === undefined) return;
        this.#pending.delete(token);
        resolve(msg);
      },
    });
  }

  request(subject: string, payload: Uint8Array): Promise<Msg> {
    const token = (this.#seq++).toString(36);
    return new Promise((resolve) => {
      this.#pending.set(token, resolve);
      this.#nc.publish(subject, payload, { reply: this.#prefix + token });
    });
  }

  /** Requests in flight: zero between rounds, or a reply went missing. */
  get pending(): number {
    return this.#pending.size;
  }
}
