// Issue 13: `mesh.call()` given a contract honours what it declares (idempotent, timeoutMs), as
// `mesh.client()` does; given only a name it cannot know them.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { defineContract, isMeshError, MeshError } from "@switchyard/runtime";
import { z } from "zod";
import { meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { suiteScope } from "./fixtures/processes.js";

const declared = defineContract({
  name: "declared",
  version: "1.0.0",
  endpoints: {
    /** Fails with INTERNAL on each odd attempt: only an idempotent call gets a second one. */
    flaky: { input: z.object({}), output: z.object({ attempt: z.number() }), idempotent: true },
    /** Answers with the budget it was given. */
    budget: { input: z.object({}), output: z.object({ remainingMs: z.number() }), timeoutMs: 200 },
  },
});

describe("contract settings", () => {
  const scope = suiteScope();
  let nats: NatsNode;
  before(async () => {
    nats = await startNats(scope);
  });

  it("call(contract, …) retries an endpoint the contract declares idempotent; call(name, …) does not", async (t) => {
    const server = await meshFor(t, nats.url, "declared");
    let attempts = 0;
    await server.serve(declared, {
      flaky: () => {
        attempts += 1;
        if (attempts % 2 === 1) throw new MeshError("INTERNAL", "odd attempt");
        return { attempt: attempts };
      },
      budget: (_input, ctx) => ({ remainingMs: ctx.remainingMs() }),
    });
    const caller = await meshFor(t, nats.url, "caller");
    assert.deepEqual(await caller.call(declared, "flaky", {}), { attempt: 2 });
    assert.deepEqual(await caller.client(declared).flaky({}), { attempt: 4 });
    const byName = await caller.call("declared", "flaky", {}).catch((e: unknown) => e);
    assert.ok(isMeshError(byName) && byName.code === "INTERNAL", String(byName));
    assert.equal(attempts, 5, "the untyped call was not retried");
  });

  it("call(contract, …) takes the contract's timeoutMs as the deadline; call(name, …) the mesh default", async (t) => {
    const server = await meshFor(t, nats.url, "declared");
    await server.serve(declared, {
      flaky: () => ({ attempt: 0 }),
      budget: (_input, ctx) => ({ remainingMs: ctx.remainingMs() }),
    });
    const caller = await meshFor(t, nats.url, "caller");
    const typed = (await caller.call(declared, "budget", {})) as { remainingMs: number };
    assert.ok(typed.remainingMs <= 200, `budget ${typed.remainingMs} ms within the contract's 200`);
    const viaClient = await caller.client(declared).budget({});
    assert.ok(viaClient.remainingMs <= 200, `budget ${viaClient.remainingMs} ms within the contract's 200`);
    const byName = (await caller.call("declared", "budget", {})) as { remainingMs: number };
    assert.ok(byName.remainingMs > 200, `budget ${byName.remainingMs} ms: the mesh default, 5,000`);
  });

  it("call(contract, …) refuses an endpoint the contract does not have", async (t) => {
    const caller = await meshFor(t, nats.url, "caller");
    const error = await caller.call(declared, "missing", {}).catch((e: unknown) => e);
    assert.ok(isMeshError(error) && error.code === "INVALID_ARGUMENT", String(error));
  });
});
