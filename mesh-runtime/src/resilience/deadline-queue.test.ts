import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { monotonicNow } from "./clock.js";
import { DeadlineQueue } from "./deadline-queue.js";

/** A queue over a set of live ids that records what expired, and when. */
function setup() {
  const live = new Set<number>();
  const expired: Array<{ id: number; at: number }> = [];
  let wake: (() => void) | undefined;
  const queue = new DeadlineQueue(
    (id) => live.has(id),
    (id) => {
      live.delete(id);
      expired.push({ id, at: monotonicNow() });
      wake?.();
    },
    () => live.size,
  );
  const add = (id: number, at: number) => {
    live.add(id);
    queue.add(id, at);
  };
  /** Resolves once `n` ids have expired. */
  const expiredCount = (n: number) =>
    new Promise<void>((resolve) => {
      wake = () => {
        if (expired.length >= n) resolve();
      };
      wake();
    });
  return { live, expired, queue, add, expiredCount };
}

describe("DeadlineQueue", () => {
  // the queue's timer does not keep a process alive (the connection does): this test's does
  const alive = setInterval(() => undefined, 1_000);
  after(() => clearInterval(alive));

  it("expires live ids in deadline order, never before their deadline", async () => {
    const { add, expired, expiredCount } = setup();
    const now = monotonicNow();
    const deadlines = new Map([
      [1, now + 30],
      [2, now + 5],
      [3, now + 15],
    ]);
    for (const [id, at] of deadlines) add(id, at);
    await expiredCount(3);
    assert.deepEqual(
      expired.map((e) => e.id),
      [2, 3, 1],
    );
    for (const e of expired) assert.ok(e.at >= (deadlines.get(e.id) as number), `id ${e.id} expired early`);
  });

  it("never expires an id that settled", async () => {
    const { add, live, expired, expiredCount } = setup();
    const now = monotonicNow();
    add(1, now + 2);
    add(2, now + 4);
    live.delete(1); // settled before its deadline
    await expiredCount(1);
    assert.deepEqual(
      expired.map((e) => e.id),
      [2],
    );
  });

  it("drops settled entries instead of growing without end", () => {
    const { add, live, queue } = setup();
    const later = monotonicNow() + 60_000;
    add(0, later); // one slow request holds the top
    for (let id = 1; id <= 20_000; id++) {
      add(id, later + id);
      live.delete(id);
    }
    assert.ok(queue.size < 10_000, `holds ${queue.size} entries for 1 live id`);
    queue.clear();
    assert.equal(queue.size, 0);
  });
});
