import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { raceHedges } from "./hedge-race.js";

type Result = "ok" | "retryable" | "fatal";

/** Attempts that settle when the test says so; each records whether it was aborted. */
function attempts() {
  const settle: Array<(r: Result) => void> = [];
  const aborted: boolean[] = [];
  const launch = (index: number, signal: AbortSignal) =>
    new Promise<Result>((resolve) => {
      settle[index] = resolve;
      aborted[index] = false;
      signal.addEventListener("abort", () => {
        aborted[index] = true;
      });
    });
  return { settle, aborted, launch };
}

const verdict = (r: Result) => (r === "retryable" ? "lose" : "final");
const flush = () => new Promise<void>((r) => setImmediate(r));

test("a hedge goes after afterMs; the first answer wins and the other is aborted", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { settle, aborted, launch } = attempts();
  const race = raceHedges({ afterMs: 50, max: 1 }, launch, verdict, () => true);
  assert.equal(settle.length, 1);
  t.mock.timers.tick(49);
  assert.equal(settle.length, 1, "not before afterMs");
  t.mock.timers.tick(1);
  assert.equal(settle.length, 2);
  settle[1]?.("ok");
  assert.equal(await race, "ok");
  assert.deepEqual(aborted, [true, false]);
});

test("no hedge when the first answers in time, or when the budget refuses", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const a = attempts();
  const fast = raceHedges({ afterMs: 50, max: 2 }, a.launch, verdict, () => true);
  a.settle[0]?.("ok");
  assert.equal(await fast, "ok");
  t.mock.timers.tick(500);
  assert.equal(a.settle.length, 1);

  const b = attempts();
  let asked = 0;
  const refused = raceHedges({ afterMs: 50, max: 2 }, b.launch, verdict, () => {
    asked++;
    return false;
  });
  t.mock.timers.tick(500);
  assert.equal(b.settle.length, 1);
  assert.equal(asked, 1, "a refusal stops hedging for the call");
  b.settle[0]?.("ok");
  assert.equal(await refused, "ok");
});

test("at most max hedges", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { settle, launch } = attempts();
  void raceHedges({ afterMs: 10, max: 2 }, launch, verdict, () => true);
  for (let i = 0; i < 10; i++) t.mock.timers.tick(10);
  assert.equal(settle.length, 3);
  for (const s of settle) s("ok");
});

test("a retryable failure waits for the others; the last loss ends the race", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { settle, launch } = attempts();
  let done: Result | undefined;
  const race = raceHedges({ afterMs: 10, max: 1 }, launch, verdict, () => true).then((r) => {
    done = r;
    return r;
  });
  t.mock.timers.tick(10);
  settle[0]?.("retryable");
  await flush();
  assert.equal(done, undefined, "the hedge may still answer");
  settle[1]?.("retryable");
  assert.equal(await race, "retryable");
});

test("a failure no hedge can change ends the race at once", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { settle, aborted, launch } = attempts();
  const race = raceHedges({ afterMs: 10, max: 1 }, launch, verdict, () => true);
  t.mock.timers.tick(10);
  settle[0]?.("fatal");
  assert.equal(await race, "fatal");
  assert.deepEqual(aborted, [false, true]);
});

test("a launch that throws rejects the race and aborts the rest", async () => {
  mock.timers.reset();
  const race = raceHedges(
    { afterMs: 10, max: 1 },
    () => Promise.reject(new Error("boom")),
    verdict,
    () => true,
  );
  await assert.rejects(race, /boom/);
});
