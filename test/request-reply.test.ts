// The runtime core (issue 2): request/reply, typed clients, and the error's stack.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMeshError } from "@switchyard/runtime";
import { echoContract } from "./fixtures/contracts.js";
import { meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";

describe("request/reply", () => {
  const nats = suiteNats();

  it("a typed client calls a served contract and gets its typed output", async (t) => {
    const server = await meshFor(t, nats.url, "echo");
    await server.serve(echoContract, {
      say: ({ text }, ctx) => ({ text: text.toUpperCase(), tenant: ctx.tenant }),
      sayAgain: ({ text }) => ({ text }),
    });
    const caller = await meshFor(t, nats.url, "caller");
    const echo = caller.client(echoContract);
    assert.deepEqual(await echo.say({ text: "hi" }, { tenant: "acme" }), { text: "HI", tenant: "acme" });
    assert.deepEqual(await caller.call("echo", "sayAgain", { text: "x" }), { text: "x" });
  });

  it("an error thrown at a missing service shows the application's call site in its stack", async (t) => {
    const caller = await meshFor(t, nats.url, "caller", { calls: { retry: { maxAttempts: 1 } } });
    async function placeOrderFromTheApplication() {
      await caller.call("nobody-home", "anything", {});
    }
    const error = await placeOrderFromTheApplication().then(
      () => assert.fail("expected a failure"),
      (e: unknown) => e,
    );
    assert.ok(isMeshError(error));
    assert.equal(error.code, "NO_RESPONDERS");
    assert.match(String(error.stack), /placeOrderFromTheApplication/);
  });
});
