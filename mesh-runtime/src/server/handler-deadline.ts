import { MeshError } from "../errors.js";
import { monotonicNow } from "../resilience/clock.js";
import type { ServedRequest } from "./served-request.js";

const ignore = () => undefined;

/**
 * The handler's work, bounded by the request's deadline. A handler that ignores its abort signal
 * must not hold its concurrency slot past the deadline: at the deadline this fails with
 * DEADLINE_EXCEEDED (whose reply is dropped, nobody waits), so the pipeline releases the slot; the
 * late result is discarded, and `r.overrun` tracks the handler until it really ends (drain waits).
 */
export function withinDeadline(r: ServedRequest, work: Promise<Uint8Array>): Promise<Uint8Array> {
  const leftMs = r.deadlineAt - monotonicNow();
  if (!Number.isFinite(leftMs)) return work;
  return new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(
      () => {
        r.overrun = work.then(ignore, ignore);
        const { service, endpoint } = r.endpoint;
        reject(
          new MeshError("DEADLINE_EXCEEDED", `the handler of ${service}.${endpoint} overran its deadline`),
        );
      },
      // Node's timers count whole ms and may fire a fraction early against the monotonic clock:
      // one ms more makes sure the deadline has passed, so the reply is dropped, not sent
      Math.max(0, Math.ceil(leftMs) + 1),
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
