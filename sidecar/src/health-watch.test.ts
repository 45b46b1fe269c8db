import assert from "node:assert/strict";
import { it } from "node:test";
import { HealthWatch } from "./health-watch.js";

it("ready after one good answer, unready after unhealthyAfter bad ones in a row, a verdict every check", async () => {
  const answers = [false, true, false, true, false, false, true];
  const verdicts: boolean[] = [];
  const watch = new HealthWatch(
    async () => answers.shift() ?? false,
    { intervalMs: 60_000, unhealthyAfter: 2 },
    (ready) => verdicts.push(ready),
  );
  await watch.start();
  for (let i = 0; i < 6; i++) await watch.checkNow();
  watch.stop();
  assert.deepEqual(verdicts, [false, true, true, true, true, false, true]);
  await watch.checkNow();
  assert.equal(verdicts.length, 7, "no check once stopped");
});

it("a check already running is the one a second caller awaits", async () => {
  let calls = 0;
  let release: (() => void) | undefined;
  const watch = new HealthWatch(
    () => {
      calls++;
      return new Promise<boolean>((resolve) => {
        release = () => resolve(true);
      });
    },
    { intervalMs: 60_000, unhealthyAfter: 1 },
    () => undefined,
  );
  const first = watch.checkNow();
  const second = watch.checkNow();
  release?.();
  await Promise.all([first, second]);
  watch.stop();
  assert.equal(calls, 1);
  assert.equal(watch.ready, true);
});
