import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { isMeshError } from "../errors.js";
import { monotonicNow } from "../resilience/clock.js";
import { DeadlineQueue } from "../resilience/deadline-queue.js";
import { SlotTable } from "../resilience/slot-table.js";
import { shortId } from "../short-id.js";
import { type EncodedHeaders, subjectNumber } from "../wire/raw-headers.js";
import { WriteSlices } from "../wire/write-slices.js";

/** Why an attempt got no reply message. `sent` tells whether the request may have arrived. */
export type SendFailure =
  | { readonly kind: "no-responders"; readonly sent: true }
  | { readonly kind: "timeout"; readonly sent: true }
  | { readonly kind: "cancelled"; readonly sent: false }
  /** Given up after sending: `reply` names the attempt, so the callee can be told. */
  | { readonly kind: "abandoned"; readonly sent: true; readonly reply: string }
  | { readonly kind: "disconnected"; readonly sent: boolean }
  | { readonly kind: "closed"; readonly sent: boolean }
  | { readonly kind: "too-large"; readonly sent: false; readonly limit: number }
  /** The broker refused the publish: this identity may not send to the subject. */
  | { readonly kind: "refused"; readonly sent: false }
  | { readonly kind: "publish-failed"; readonly sent: false; readonly cause: unknown };

export type SendResult = Msg | SendFailure;

const NO_RESPONDERS: SendFailure = { kind: "no-responders", sent: true };
const TIMEOUT: SendFailure = { kind: "timeout", sent: true };
const CANCELLED_UNSENT: SendFailure = { kind: "cancelled", sent: false };
// headers rarely reach this size; only a payload this close to the limit pays to measure them
const HEADER_ALLOWANCE = 4_096;
const DISCONNECTED_SENT: SendFailure = { kind: "disconnected", sent: true };
const DISCONNECTED_UNSENT: SendFailure = { kind: "disconnected", sent: false };
const CLOSED_SENT: SendFailure = { kind: "closed", sent: true };
const CLOSED_UNSENT: SendFailure = { kind: "closed", sent: false };
const REFUSED: SendFailure = { kind: "refused", sent: false };
const TOKEN_RADIX = 36;
/** A publish's bytes beside its subjects, headers and body: "HPUB", spaces, two lengths, two CRLFs. */
const COMMAND_BYTES = 20;

function noop(): void {}

export function isSendFailure(result: SendResult): result is SendFailure {
  return "kind" in result;
}

interface Pending {
  resolve: (result: SendResult) => void;
  /** Where the request went, so a broker's refusal of that subject can find it. */
  subject: string;
  /** Its handle in the table of requests in flight (the reply subject's token). */
  token: number;
}

/**
 * Request/reply multiplexed over one wildcard inbox subscription: a request is a publish with a
 * reply subject `<inbox>.<token>` (its handle in a `SlotTable`, base 36: unique while it is in
 * flight, and a late reply to a settled one finds nothing) and an entry in that table. No
 * per-request subscription, timer or `Error` (nats.js `request()` pays for all three): timeouts
 * are one `DeadlineQueue`, failures are values.
 */
export class Requester {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  /** The prefix's length in UTF-8, where a reply's token starts in its subject's bytes. */
  readonly #prefixBytes: number;
  readonly #pending = new SlotTable<Pending>();
  readonly #deadlines = new DeadlineQueue(
    (seq) => this.#pending.get(seq) !== undefined,
    (seq) => this.#settle(seq, TIMEOUT),
    () => this.#pending.size,
  );
  /** Calls waiting for a reconnect: each is told how the wait ended. */
  readonly #waiting = new Set<(outcome: SendFailure | undefined) => void>();
  readonly #slices: WriteSlices;
  #connected = true;
  /** Set when the broker refused the inbox subscription: no reply can ever arrive. */
  refusal: Error | undefined;

  constructor(nc: NatsConnection, inboxPrefix: string) {
    this.#nc = nc;
    this.#slices = new WriteSlices(nc);
    this.#prefix = `${inboxPrefix}.${shortId()}.`;
    this.#prefixBytes = Buffer.byteLength(this.#prefix, "utf8");
    nc.subscribe(`${this.#prefix}*`, {
      callback: (err, msg) => {
        if (err) this.refusal ??= err;
        else this.#onReply(msg);
      },
    });
  }

  /** Requests in flight. */
  get size(): number {
    return this.#pending.size;
  }

  /** False between a disconnect and the reconnect: nothing can be sent meanwhile. */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Waits, at most `timeoutMs`, for the connection to come back. Resolves with nothing once it
   * has, else with why the wait ended (still disconnected, closed, or aborted). Never rejects.
   */
  reconnected(timeoutMs: number, signal?: AbortSignal): Promise<SendFailure | undefined> {
    if (this.#nc.isClosed() || this.#nc.isDraining()) return Promise.resolve(CLOSED_UNSENT);
    if (this.#connected) return Promise.resolve(undefined);
    if (signal?.aborted) return Promise.resolve(CANCELLED_UNSENT);
    return new Promise((resolve) => {
      const done = (outcome: SendFailure | undefined) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#waiting.delete(done);
        resolve(outcome);
      };
      const onAbort = () => done(CANCELLED_UNSENT);
      const timer = setTimeout(() => done(DISCONNECTED_UNSENT), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.add(done);
    });
  }

  /**
   * Publishes one request and settles with its reply or a failure, by `timeoutMs` at the latest.
   * Never rejects.
   */
  send(
    subject: string,
    payload: Uint8Array,
    headers: EncodedHeaders,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<SendResult> {
    if (this.#nc.isClosed() || this.#nc.isDraining()) return Promise.resolve(CLOSED_UNSENT);
    if (!this.#connected) return Promise.resolve(DISCONNECTED_UNSENT);
    if (signal?.aborted) return Promise.resolve(CANCELLED_UNSENT);
    const limit = this.#nc.info?.max_payload;
    // nats.js counts headers and body against max_payload
    if (
      limit !== undefined &&
      payload.length + HEADER_ALLOWANCE > limit &&
      payload.length + headers.encode().length > limit
    ) {
      return Promise.resolve({ kind: "too-large", sent: false, limit });
    }
    const entry: Pending = { resolve: noop, subject, token: -1 };
    const token = this.#pending.add(entry);
    entry.token = token;
    const reply = this.#prefix + token.toString(TOKEN_RADIX);
    try {
      // publish() only calls encode() on its headers; EncodedHeaders has exactly that
      this.#nc.publish(subject, payload, { reply, headers: headers as unknown as MsgHdrs });
    } catch (cause) {
      this.#pending.delete(token);
      return Promise.resolve({ kind: "publish-failed", sent: false, cause });
    }
    this.#slices.sent(
      COMMAND_BYTES + subject.length + reply.length + headers.encode().length + payload.length,
      this.#pending.size,
    );
    return new Promise<SendResult>((resolve) => {
      entry.resolve = resolve;
      this.#deadlines.add(token, monotonicNow() + timeoutMs);
      if (signal !== undefined) {
        // a parent's deadline is this call's deadline too: a timeout, and the callee times out itself
        const onAbort = () =>
          this.#settle(
            token,
            isMeshError(signal.reason) && signal.reason.code === "DEADLINE_EXCEEDED"
              ? TIMEOUT
              : { kind: "abandoned", sent: true, reply },
          );
        signal.addEventListener("abort", onAbort, { once: true });
        // the listener must not outlive the request on a long-lived signal
        entry.resolve = (r) => {
          signal.removeEventListener("abort", onAbort);
          resolve(r);
        };
      }
    });
  }

  /** The connection dropped: replies to requests in flight are lost, so fail them now. */
  disconnected(): void {
    this.#connected = false;
    this.#failAll(DISCONNECTED_SENT);
  }

  /** The connection is back: calls waiting for it send now. */
  resumed(): void {
    this.#connected = true;
    this.#wake(undefined);
  }

  /**
   * The broker refused a publish on `subject` (a permissions violation names only the subject):
   * every request in flight to it was refused, and fails now instead of timing out.
   */
  refused(subject: string): void {
    this.#settleWhere((pending) => pending.subject === subject, REFUSED);
  }

  /** The connection is gone for good. */
  closed(): void {
    this.#connected = false;
    this.#failAll(CLOSED_SENT);
    this.#wake(CLOSED_UNSENT);
  }

  #wake(outcome: SendFailure | undefined): void {
    for (const done of [...this.#waiting]) done(outcome);
  }

  #onReply(msg: Msg): void {
    // not a number: not a reply to anything sent here (NaN is no handle)
    const token = subjectNumber(msg, this.#prefix.length, this.#prefixBytes);
    // the server's "no responders" status: a 503 with headers and no body
    const result = msg.data.length === 0 && msg.headers?.code === 503 ? NO_RESPONDERS : msg;
    this.#settle(token, result);
  }

  #settle(token: number, result: SendResult): void {
    const pending = this.#pending.get(token);
    if (pending === undefined) return; // a late reply to a request that already settled
    this.#pending.delete(token);
    pending.resolve(result);
  }

  #failAll(result: SendFailure): void {
    this.#settleWhere(() => true, result);
    this.#deadlines.clear();
  }

  /** Settles with `result` every request in flight that `which` picks (listed first: settling deletes). */
  #settleWhere(which: (pending: Pending) => boolean, result: SendResult): void {
    const tokens: number[] = [];
    this.#pending.forEach((pending) => {
      if (which(pending)) tokens.push(pending.token);
    });
    for (const token of tokens) this.#settle(token, result);
  }
}
