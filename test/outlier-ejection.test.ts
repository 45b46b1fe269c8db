// Issue 18, outlier ejection: an instance whose callee-blamed failure rate over the window passes
// the policy's threshold is ejected from the caller's balancing for a back-off period, then
// readmitted. The ejection is a log line, a span event, a metric and a count in the caller's STATS
// (`mesh_calls[].ejected`, what `switchyard top` shows). Real nats-server, one mesh per instance.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { defineContract, MeshError } from "@switchyard/runtime";
import { MeshStatsResponse } from "@switchyard/schemas";
import { z } from "zod";
import { waitFor } from "./fixtures/eventually.js";
import { EJECTED, instanceSpy, many, startPool, untilEjected } from "./fixtures/instance-pool.js";
import { captureLogs, meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { suiteScope } from "./fixtures/processes.js";

const EJECT_MS = 3_000;

describe("outlier ejection against real instances", () => {
  const scope = suiteScope();
  let nats: NatsNode;

  before(async () => {
    nats = await startNats(scope);
  });

  it("an instance failing half its calls is ejected, gets no calls while ejected, and is readmitted", async () => {
    let failing = true;
    const pool = await startPool(scope, nats.url, "flaky", {
      a: () => undefined,
      b: () => undefined,
      flaky: (n) => {
        if (failing && n % 2 === 0) throw new MeshError("UNAVAILABLE", "half of these fail");
      },
    });
    const { logger, lines } = captureLogs("warn");
    const caller = await meshFor(scope, nats.url, "flakycaller", {
      policy: { follow: false },
      logger,
      calls: {
        balance: "p2c-ewma",
        retry: { maxAttempts: 3, budget: { ratio: 10, minPerSecond: 1_000, windowMs: 10_000 } },
        outlier: { failureRatio: 0.3, minimumCalls: 6, windowMs: 10_000, ejectMs: EJECT_MS },
      },
    });
    // the caller serves something too, so its STATS tell what it ejected
    await caller.serve(
      defineContract({
        name: "flakycaller",
        version: "1.0.0",
        endpoints: { noop: { input: z.object({}), output: z.object({}) } },
      }),
      { noop: () => ({}) },
    );
    const spy = instanceSpy(scope, caller, "flaky");
    const flakyId = pool.meshes.get("flaky")?.instanceId as string;
    const client = caller.client(pool.contract);
    const ejectedNow = async () => {
      const reply = await caller.connection.request("$SRV.STATS.flakycaller", "", { timeout: 2_000 });
      const stats = MeshStatsResponse.parse(reply.json());
      return stats.mesh_calls?.find((c) => c.service === "flaky" && c.endpoint === "who")?.ejected ?? 0;
    };

    // until the caller has learned the instances from $SRV, calls go through the queue group, where a
    // retry may land on the failing instance again: warm up until balancing has picked all three
    await waitFor(
      "the caller to balance over all three instances",
      async () => {
        await client.who({}).catch(() => undefined);
        return spy.size === 3;
      },
      30_000,
    );
    // calls go on (retried elsewhere) until the caller ejects the failing instance
    await untilEjected(() => client.who({}), lines);
    const ejection = lines.find((l) => l["instance"] !== undefined);
    assert.equal(ejection?.["instance"], flakyId);
    assert.equal(ejection?.["service"], "flaky");
    assert.equal(await ejectedNow(), 1, "STATS (switchyard top) shows the ejection");

    // while ejected it gets nothing: a few calls, well inside the ejection
    const before = spy.get(flakyId) ?? 0;
    const during = await many(20, 4, () => client.who({}));
    assert.equal(during.filter((r) => r instanceof Error).length, 0);
    assert.equal(spy.get(flakyId) ?? 0, before, "no call went to the ejected instance");

    // healed, and after the back-off: readmitted, and calls reach it again
    failing = false;
    await waitFor("the ejection to end", async () => (await ejectedNow()) === 0, EJECT_MS + 10_000);
    await waitFor(
      "calls to reach the readmitted instance",
      async () => {
        await many(20, 8, () => client.who({}));
        return (spy.get(flakyId) ?? 0) > before;
      },
      30_000,
    );
  });

  it("failures the caller causes (a bad input) never eject an instance", async () => {
    const pool = await startPool(scope, nats.url, "picky", {
      a: () => undefined,
      b: () => undefined,
      picky: () => {
        throw new MeshError("INVALID_ARGUMENT", "no");
      },
    });
    const { logger, lines } = captureLogs("warn");
    const caller = await meshFor(scope, nats.url, "pickycaller", {
      policy: { follow: false },
      logger,
      calls: { balance: "p2c-ewma", outlier: { failureRatio: 0.1, minimumCalls: 2 } },
    });
    const spy = instanceSpy(scope, caller, "picky");
    const pickyId = pool.meshes.get("picky")?.instanceId as string;
    await waitFor(
      "the picky instance to refuse ten calls",
      async () => {
        await many(10, 2, () => caller.client(pool.contract).who({}));
        return (spy.get(pickyId) ?? 0) >= 10;
      },
      30_000,
    );
    assert.deepEqual(
      lines.filter((l) => l["msg"] === EJECTED),
      [],
    );
  });
});
