// Issue 18, hedging: for an idempotent endpoint, `hedge: { afterMs, max }` sends another attempt to
// another instance when the first has not answered in `afterMs`; the first answer wins and the
// other is cancelled (docs/PROTOCOL.md §16). Real nats-server, one mesh per instance. The figure
// is the count of answers from the slow instance, not a clock reading: those are the slow calls.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { waitFor } from "./fixtures/eventually.js";
import { callerFor, instanceSpy, many, startPool, tally, workFor } from "./fixtures/instance-pool.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { suiteScope } from "./fixtures/processes.js";

const CALLS = 300;
const RETRIES = { maxAttempts: 2, budget: { ratio: 10, minPerSecond: 1_000, windowMs: 10_000 } };

describe("hedged calls against one slow instance of three", () => {
  const scope = suiteScope();
  let nats: NatsNode;

  before(async () => {
    nats = await startNats(scope);
  });

  async function run(service: string, hedge: { afterMs: number; max: number } | undefined) {
    let cancelled = 0;
    const pool = await startPool(scope, nats.url, service, {
      a: () => undefined,
      b: () => undefined,
      slow: async (_n, ctx) => {
        if (await workFor(200, ctx)) cancelled++;
      },
    });
    // the queue group's random first pick: the slow instance gets its third of first attempts
    const caller = await callerFor(scope, nats.url, `${service}-caller`, {
      balance: "queue-group",
      retry: RETRIES,
      ...(hedge === undefined ? {} : { hedge }),
    });
    const client = caller.client(pool.contract);
    if (hedge !== undefined) {
      const spy = instanceSpy(scope, caller, service);
      await waitFor(
        "the caller to know the three instances",
        async () => {
          await client.who({});
          return spy.size >= 3;
        },
        15_000,
      );
    }
    pool.served.length = 0;
    cancelled = 0;
    const results = await many(CALLS, 8, () => client.who({}));
    assert.deepEqual(
      results.filter((r) => r instanceof Error),
      [],
    );
    const by = tally(results as Array<{ instance: string }>, (r) => r.instance);
    return { slowAnswers: by["slow"] ?? 0, by, cancelled: () => cancelled, served: pool.served };
  }

  it("without hedging a third of the answers are slow: p99 is the slow instance's", async () => {
    const { slowAnswers, by } = await run("unhedged", undefined);
    assert.ok(slowAnswers > CALLS * 0.2, JSON.stringify(by));
  });

  it("hedging after 30 ms leaves fewer than 1% slow answers, and cancels the slow attempts", async () => {
    const { slowAnswers, by, cancelled } = await run("hedged", { afterMs: 30, max: 1 });
    // fewer than 1% slow answers: the 99th percentile is a fast one
    assert.ok(slowAnswers < CALLS * 0.01, `slow answers: ${slowAnswers} (${JSON.stringify(by)})`);
    // the losing attempts on the slow instance were told to stop (the cancel subject)
    await waitFor("the slow instance to see cancels", () => cancelled() > CALLS * 0.1, 10_000);
  });

  it("a call that is not idempotent is never hedged", async () => {
    let calls = 0;
    const pool = await startPool(scope, nats.url, "nothedged", {
      a: async (_n, ctx) => {
        calls++;
        await workFor(100, ctx);
      },
    });
    const caller = await callerFor(scope, nats.url, "nothedged-caller", {
      balance: "p2c-ewma",
      hedge: { afterMs: 10, max: 2 },
    });
    const results = await many(10, 2, () => caller.client(pool.contract).who({}, { idempotent: false }));
    assert.equal(results.filter((r) => r instanceof Error).length, 0);
    assert.equal(calls, 10, "one attempt per call");
  });
});
