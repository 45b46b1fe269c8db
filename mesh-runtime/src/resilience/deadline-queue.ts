import { monotonicNow } from "./clock.js";

const INITIAL_CAPACITY = 256;
// settled entries behind a long-lived one are compacted away past this many per live one
const SETTLED_PER_LIVE = 4;
const COMPACT_FLOOR = 4_096;

/**
 * Deadlines of many requests on one timer, instead of a timer per request (an allocation, a
 * list insert and a clear each). A binary min-heap of (deadline, id) in typed arrays, so it holds
 * no objects for the GC to trace; a request that settles is not removed (`isLive` tells), its
 * entry is dropped once it reaches the top. The one timer is armed for the earliest live
 * deadline: while requests settle in time it fires about once per timeout, not per request.
 */
export class DeadlineQueue {
  readonly #isLive: (id: number) => boolean;
  readonly #expire: (id: number) => void;
  readonly #liveCount: () => number;
  #at = new Float64Array(INITIAL_CAPACITY);
  #ids = new Float64Array(INITIAL_CAPACITY);
  #size = 0;
  #timer: NodeJS.Timeout | undefined;
  #armedAt = Number.POSITIVE_INFINITY;

  /**
   * `expire(id)` is called once `id`'s deadline has passed, if `isLive(id)` still says so;
   * `liveCount()` is how many ids are live (bounds the settled entries kept).
   */
  constructor(isLive: (id: number) => boolean, expire: (id: number) => void, liveCount: () => number) {
    this.#isLive = isLive;
    this.#expire = expire;
    this.#liveCount = liveCount;
  }

  /** Entries held, settled ones not yet dropped included. */
  get size(): number {
    return this.#size;
  }

  /** Expires `id` at `at` (monotonic ms), or a little after: never before. */
  add(id: number, at: number): void {
    this.#dropSettled();
    if (this.#size === this.#at.length) {
      // one slow request must not make every settled entry behind it stay
      if (this.#size > COMPACT_FLOOR && this.#size > SETTLED_PER_LIVE * this.#liveCount()) this.#compact();
      else this.#grow();
    }
    this.#siftUp(this.#size++, at, id);
    if (at < this.#armedAt) this.#arm(at);
  }

  /** Forgets every entry and stops the timer. */
  clear(): void {
    this.#size = 0;
    this.#disarm();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const now = monotonicNow();
    while (this.#size > 0 && (this.#at[0] as number) <= now) {
      const id = this.#ids[0] as number;
      this.#pop();
      if (this.#isLive(id)) this.#expire(id);
    }
    this.#dropSettled();
    if (this.#size > 0) this.#arm(this.#at[0] as number);
  };

  #arm(at: number): void {
    this.#disarm();
    this.#armedAt = at;
    // Node's timers may fire a fraction early against the monotonic clock: `#fire` re-arms then
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.ceil(at - monotonicNow())));
    // the connection keeps the process alive while requests are out; this timer must not after
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
  }

  #dropSettled(): void {
    while (this.#size > 0 && !this.#isLive(this.#ids[0] as number)) this.#pop();
  }

  #pop(): void {
    const last = --this.#size;
    if (last > 0) this.#siftDown(0, this.#at[last] as number, this.#ids[last] as number);
  }

  #siftUp(from: number, at: number, id: number): void {
    const heapAt = this.#at;
    const ids = this.#ids;
    let i = from;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentAt = heapAt[parent] as number;
      if (parentAt <= at) break;
      heapAt[i] = parentAt;
      ids[i] = ids[parent] as number;
      i = parent;
    }
    heapAt[i] = at;
    ids[i] = id;
  }

  #siftDown(from: number, at: number, id: number): void {
    const heapAt = this.#at;
    const ids = this.#ids;
    const size = this.#size;
    let i = from;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && (heapAt[child + 1] as number) < (heapAt[child] as number)) child++;
      if ((heapAt[child] as number) >= at) break;
      heapAt[i] = heapAt[child] as number;
      ids[i] = ids[child] as number;
      i = child;
    }
    heapAt[i] = at;
    ids[i] = id;
  }

  /** Keeps only live entries, re-heaped. */
  #compact(): void {
    const at = this.#at;
    const ids = this.#ids;
    let kept = 0;
    for (let i = 0; i < this.#size; i++) {
      const id = ids[i] as number;
      if (!this.#isLive(id)) continue;
      at[kept] = at[i] as number;
      ids[kept++] = id;
    }
    this.#size = kept;
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.#siftDown(i, at[i] as number, ids[i] as number);
  }

  #grow(): void {
    const at = new Float64Array(this.#at.length * 2);
    const ids = new Float64Array(this.#ids.length * 2);
    at.set(this.#at);
    ids.set(this.#ids);
    this.#at = at;
    this.#ids = ids;
  }
}
