// Issue 18: a balanced caller asks membership only `versionOf` per pick (one lookup), so that
// question must keep the service watched, as `of` does; an uncalled service is still forgotten.
import assert from "node:assert/strict";
import { it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { Membership, REFRESH_MS } from "../mesh-runtime/src/routing/membership.js";
import { startNats } from "./fixtures/nats-server.js";

it("a service asked for its version every round stays watched; one nobody asks for is dropped", async (t) => {
  const nats = await startNats(t);
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  // membership's rounds run on setInterval: the test moves that clock, NATS stays real
  t.mock.timers.enable({ apis: ["setInterval"] });
  const membership = new Membership(nc);
  t.after(() => membership.stop());
  membership.of("called");
  membership.of("forgotten");
  // a minute and more of rounds (the idle limit is 30)
  for (let round = 0; round < 40; round++) {
    assert.notEqual(membership.versionOf("called"), 0, `still watched at round ${round}`);
    t.mock.timers.tick(REFRESH_MS);
  }
  assert.notEqual(membership.versionOf("called"), 0);
  assert.equal(membership.versionOf("forgotten"), 0, "a service nobody calls is no longer watched");
});
