import assert from "node:assert/strict";
import { it } from "node:test";
import { endOfTurn } from "./io-turn.js";

it("everyone who asks during a turn waits for the same end of it, after the turn's other callbacks", async () => {
  const order: string[] = [];
  const first = endOfTurn();
  assert.equal(endOfTurn(), first);
  setImmediate(() => order.push("immediate queued after"));
  await first.then(() => order.push("end of turn"));
  assert.notEqual(endOfTurn(), first);
  await endOfTurn();
  assert.deepEqual(order, ["end of turn", "immediate queued after"]);
});
