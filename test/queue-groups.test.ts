// Issue 2: instances of a service share its queue group, and closing one drains without failures.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMeshError } from "@switchyard/runtime";
import { echoContract } from "./fixtures/contracts.js";
import { waitFor } from "./fixtures/eventually.js";
import { delay, meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";

describe("queue groups", () => {
  const nats = suiteNats();

  async function instances(t: Parameters<typeof meshFor>[0], n: number, holdMs: number) {
    const counts = Array.from({ length: n }, () => 0);
    const meshes = [];
    for (let i = 0; i < n; i++) {
      const mesh = await meshFor(t, nats.url, "echo");
      await mesh.serve(echoContract, {
        say: async ({ text }) => {
          counts[i] = (counts[i] ?? 0) + 1;
          if (holdMs > 0) await delay(holdMs); // the handler's work: calls stay in flight meanwhile
          return { text };
        },
        sayAgain: ({ text }) => ({ text }),
      });
      meshes.push(mesh);
    }
    return { counts, meshes };
  }

  it("three instances each receive a share of 3,000 calls", async (t) => {
    const { counts } = await instances(t, 3, 0);
    const echo = (await meshFor(t, nats.url, "caller")).client(echoContract);
    const total = 3_000;
    for (let sent = 0; sent < total; sent += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => echo.say({ text: `m${sent + i}` })));
    }
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      total,
    );
    for (const count of counts) assert.ok(count >= total * 0.15, `uneven share: ${counts.join("/")}`);
  });

  it("closing one instance while 200 calls are in flight fails none of them", async (t) => {
    const { counts, meshes } = await instances(t, 3, 100);
    const echo = (await meshFor(t, nats.url, "caller")).client(echoContract);
    const calls = Array.from({ length: 200 }, (_, i) =>
      echo.say({ text: `c${i}` }, { timeoutMs: 5_000 }).catch((e: unknown) => e),
    );
    await waitFor("the first instance to have requests in flight", () => (counts[0] ?? 0) > 0);
    assert.ok((counts[0] ?? 0) > 0, "the instance being closed has requests in flight");
    await meshes[0]?.close();
    const results = await Promise.all(calls);
    const failures = results.filter(isMeshError);
    assert.deepEqual(
      failures.map((f) => f.code),
      [],
    );
    results.forEach((r, i) => {
      assert.deepEqual(r, { text: `c${i}` });
    });
  });
});
