// Issue 15: shedding must stay the cheap path. Under overload every shed request used to be logged
// at error level with a stack (54 MB in 10 s from one instance); an expected refusal now logs at
// info without a stack, and repeated lines are rate-limited with a count.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMeshError } from "@switchyard/runtime";
import { pino } from "pino";
import { echoContract } from "./fixtures/contracts.js";
import { waitFor } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";

const SHEDS = 10_000;
const MAX_LOG_BYTES = 1024 * 1024;

describe("logging under overload", () => {
  const nats = suiteNats();

  it(`${SHEDS} shed requests grow the log by less than 1 MB, at info, without stacks`, async (t) => {
    let bytes = 0;
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { level: "debug" },
      {
        write(line: string) {
          bytes += Buffer.byteLength(line);
          if (lines.length < 10_000) lines.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
    );
    const server = await meshFor(t, nats.url, "echo", { logger, calls: { concurrency: { limit: 1 } } });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding = false;
    await server.serve(echoContract, {
      say: async ({ text }) => {
        holding = true;
        await held; // the slow handler: holds the only slot while the others are shed
        return { text };
      },
      sayAgain: ({ text }) => ({ text }),
    });
    // every shed reaches the server: no retries, and no breaker failing the calls fast instead
    const caller = await meshFor(t, nats.url, "caller", {
      calls: { retry: { maxAttempts: 1 }, breaker: { enabled: false } },
    });
    const slow = caller.call("echo", "say", { text: "slow" }, { timeoutMs: 120_000 });
    await waitFor("the slow call to hold the only slot", () => holding);
    const before = bytes;

    const codes = new Map<string, number>();
    let sent = 0;
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (sent < SHEDS) {
          sent++;
          const error = await caller
            .call("echo", "say", { text: "x" }, { timeoutMs: 30_000 })
            .catch((e: unknown) => e);
          const code = isMeshError(error) ? error.code : "OK";
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }),
    );
    release();
    await slow;
    // the count of the last window is written when it ends
    await waitFor("the last summary line", () =>
      lines.some((l) => typeof l["msg"] === "string" && l["msg"].includes("more like it")),
    );
    await delay(1_100); // one more window, so every summary of the run is in
    const grew = bytes - before;
    t.diagnostic(`log grew by ${grew} bytes for ${SHEDS} sheds`);
    assert.deepEqual(Object.fromEntries(codes), { OVERLOADED: SHEDS });
    assert.ok(grew < MAX_LOG_BYTES, `the log grew by ${grew} bytes`);
    const shedLines = lines.filter((l) => l["code"] === "OVERLOADED");
    assert.ok(shedLines.length > 0, "sheds are still logged");
    for (const line of shedLines) {
      assert.equal(line["level"], 30, `an expected refusal logs at info: ${JSON.stringify(line)}`);
      assert.equal(line["err"], undefined, "without a stack");
    }
    const written = shedLines.filter((l) => l["suppressed"] === undefined).length;
    const counted = shedLines.reduce(
      (n, l) => n + (typeof l["suppressed"] === "number" ? l["suppressed"] : 0),
      0,
    );
    assert.equal(written + counted, SHEDS, "every shed is either a line or counted in one");
  });
});
