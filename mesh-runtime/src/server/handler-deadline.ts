import { MeshError } from "../errors.js";
import { DeadlineQueue } from "../resilience/deadline-queue.js";
import { SlotTable } from "../resilience/slot-table.js";
import { release, replyFailed } from "./request-outcome.js";
import type { ServedRequest } from "./served-request.js";

/** Requests whose handler is running, by a handle of their own (not a Map: `slot-table.ts`). */
const running = new SlotTable<ServedRequest>();
const deadlines = new DeadlineQueue(
  (id) => running.get(id) !== undefined,
  (id) => {
    const r = running.get(id) as ServedRequest;
    running.delete(id);
    overran(r);
  },
  () => running.size,
);

/**
 * Bounds the handler's work by the request's deadline, without a timer or a racing promise per
 * request (one `DeadlineQueue` for every handler in the process). A handler that ignores its abort
 * signal must not hold its concurrency slot past the deadline: when the deadline passes first, the
 * request is failed at once with DEADLINE_EXCEEDED (whose reply is dropped, as nobody waits) and
 * released (its slot freed), and `r.expired` is set, so the pipeline discards the late result
 * while it still awaits the handler (drain waits for that). Returns what `handlerEnded` takes.
 */
export function watchDeadline(r: ServedRequest): number {
  if (!Number.isFinite(r.deadlineAt)) return -1;
  const id = running.add(r);
  // expired once the monotonic clock reads the deadline: the reply is then dropped, not sent
  deadlines.add(id, r.deadlineAt);
  return id;
}

/** The handler ended (its request was answered, or had expired): its deadline no longer matters. */
export function handlerEnded(watch: number): void {
  running.delete(watch);
}

function overran(r: ServedRequest): void {
  r.expired = true;
  // released below, which stops the context's own timer: its signal must abort all the same
  r.ctx?.expire();
  const { service, endpoint } = r.endpoint;
  replyFailed(
    r,
    new MeshError("DEADLINE_EXCEEDED", `the handler of ${service}.${endpoint} overran its deadline`),
  );
  release(r);
}
