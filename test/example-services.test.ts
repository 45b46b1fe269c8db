// Issue 2: the example services drain on SIGTERM, and `npm start -- --once` runs the demo.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { isMeshError } from "@switchyard/runtime";
import { inventoryContract } from "@switchyard/service-inventory";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import { freePort } from "./fixtures/processes.js";
import { startRedis } from "./fixtures/redis-server.js";

const ROOT = new URL("..", import.meta.url).pathname;

function startInventory(t: { after(fn: () => unknown): void }, natsUrl: string): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "services/inventory/src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, NATS_URL: natsUrl, INVENTORY_LATENCY_MS: "200" },
    stdio: "ignore",
  });
  t.after(() => child.kill("SIGKILL"));
  return child;
}

describe("example services", () => {
  it("SIGTERM drains an instance: no call in flight fails", async (t) => {
    const nats = await startNats(t);
    const first = startInventory(t, nats.url);
    const second = startInventory(t, nats.url);
    const caller = await meshFor(t, nats.url, "caller");
    const inventory = caller.client(inventoryContract);
    // both instances up: each answers discovery once it serves
    const answering = async () => {
      let count = 0;
      try {
        const replies = await caller.connection.requestMany("$SRV.PING.inventory", "", {
          strategy: "count",
          maxMessages: 2,
          maxWait: 1_000,
        });
        for await (const _ of replies) count++;
      } catch {
        // no responders yet
      }
      return count === 2;
    };
    await waitFor("both inventory instances to answer discovery", answering, 30_000, 50);
    await eventually(() => inventory.stock({ sku: "WIDGET-1" }, { timeoutMs: 500 }), 5_000, 50);
    const calls = Array.from({ length: 60 }, (_, i) =>
      inventory
        .reserve({ orderId: `o-${i}`, lines: [{ sku: "WIDGET-1", quantity: 1 }] }, { timeoutMs: 5_000 })
        .catch((e: unknown) => e),
    );
    // the broker has routed every call (one connection's messages stay in order) before the stop
    await caller.connection.flush();
    const exited = new Promise<number | null>((resolve) => first.once("exit", (code) => resolve(code)));
    first.kill("SIGTERM");
    const results = await Promise.all(calls);
    assert.deepEqual(
      results.filter(isMeshError).map((e) => e.code),
      [],
    );
    assert.equal(await exited, 0, "the drained instance exits cleanly");
    assert.equal(second.exitCode, null, "the other instance keeps serving");
  });

  it("npm start -- --once: controller, policy, gateway → orders → inventory and payments, quotas, keys", async (t) => {
    const nats = await startNats(t, { jetstream: true });
    const redis = await startRedis(t);
    const { stdout } = await promisify(execFile)("npm", ["start", "--", "--once"], {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL: nats.url,
        REDIS_URL: redis.url,
        GATEWAY_PORT: String(await freePort()),
      },
      timeout: 90_000,
    });
    assert.match(stdout, /applied examples\/policy\.yaml as policy version 1/);
    assert.match(stdout, /POST \/orders \(acme\) → 201 \{"orderId".*"status":"confirmed"/);
    assert.match(stdout, /GET \/orders\/\S+ \(acme\) → 200 /);
    assert.match(stdout, /too many GIZMO-3 → 409 CONFLICT/);
    assert.match(stdout, /an unknown SKU → 404 NOT_FOUND/);
    assert.match(stdout, /a declined card \(the stock is released\) → 422 FAILED_PRECONDITION/);
    assert.match(stdout, /a bad input → 400 INVALID_ARGUMENT/);
    assert.match(stdout, /no API key → 401 UNAUTHENTICATED/);
    assert.match(stdout, /a revoked API key → 401 UNAUTHENTICATED/);
    // the free plan's quota: 5 orders at once (burst), then 10 a minute
    assert.match(
      stdout,
      /7 orders for globex \(free plan\) → 201, 201, 201, 201, 201, 429, 429 \(Retry-After: \d+ s\)/,
    );
  });
});
