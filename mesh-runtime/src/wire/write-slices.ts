import type { NatsConnection } from "@nats-io/nats-core";
import { NatsConnectionImpl } from "@nats-io/nats-core/internal";

/** nats.js's own threshold: past it, a turn's buffered commands are written at once. */
export const MAX_SLICE_BYTES = 32 * 1024;
/** A burst whose half is smaller goes in one write: a second costs more than it saves. */
export const MIN_SLICE_BYTES = 4 * 1024;
/** The peak forgets ~1/1000 a request, so a caller that calls less soon slices less. */
const PEAK_KEEP = 0.999;

/** Half the bytes of `peak` requests of `bytes` each; nats.js's own threshold outside the bounds above. */
export function sliceBytes(peak: number, bytes: number): number {
  const half = (peak * bytes) / 2;
  return half < MIN_SLICE_BYTES ? MAX_SLICE_BYTES : Math.min(half, MAX_SLICE_BYTES);
}

/**
 * Writes a burst of requests in two slices. The replies to a caller's calls in flight arrive in
 * one socket read, and the calls that follow them are published in the same turn of the event
 * loop; nats.js writes its buffer at the end of the turn, or inline once it holds `pendingLimit`
 * bytes (32 KB). Until then the broker and the callee sit idle. A limit of half the requests in
 * flight writes the first half while the second is still being built, so the far side starts on
 * it: on the bench's two cores, +18% calls/s at 64 and 128 in flight, unchanged at 256 (whose
 * bursts nats.js already writes 32 KB at a time) and at 16 (a burst of 4–6 KB goes in one write).
 * The threshold is the connection's, so a burst of replies or other publishes on it is sliced
 * alike. `pendingLimit` is an internal of nats.js's protocol handler (typed in `/internal`, and
 * pinned by a test, as `raw-headers.ts`'s fields are); any other connection is left as it is.
 */
export class WriteSlices {
  readonly #protocol: { pendingLimit: number } | undefined;
  /** The most requests in flight lately: a burst re-sends about this many. */
  #peak = 0;

  constructor(nc: NatsConnection) {
    this.#protocol = nc instanceof NatsConnectionImpl ? nc.protocol : undefined;
  }

  /** A request of about `bytes` on the wire was just published, with `inFlight` now in flight. */
  sent(bytes: number, inFlight: number): void {
    const protocol = this.#protocol;
    if (protocol === undefined) return;
    this.#peak = inFlight > this.#peak ? inFlight : this.#peak * PEAK_KEEP;
    protocol.pendingLimit = sliceBytes(this.#peak, bytes);
  }
}
