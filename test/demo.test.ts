// Issue 8: the demo as `npm start` runs it, driven over HTTP through the gateway: an order across
// four services in one trace, a tenant over quota, a missing key, a payments instance killed under
// load, a policy change taking effect live, and Ctrl-C leaving nothing behind.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { DEMO_KEYS } from "../scripts/demo-keys.js";
import { startDemo } from "./fixtures/demo.js";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { delay } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import { isListening, scratchDir } from "./fixtures/processes.js";
import { startRedis } from "./fixtures/redis-server.js";

const ROOT = new URL("..", import.meta.url).pathname;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function order(gateway: string, key: string | undefined, customerId = "c-e2e") {
  const res = await fetch(`${gateway}/orders`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(key === undefined ? {} : { Authorization: `Bearer ${key}` }),
    },
    body: JSON.stringify({ customerId, lines: [{ sku: "WIDGET-1", quantity: 1 }] }),
  });
  const body = (await res.json()) as { orderId?: string; error?: { code: string } };
  return { status: res.status, body, headers: res.headers };
}

describe("the demo, end to end", () => {
  it("npm start: one trace across four services, 429, 401, a killed payments instance, a live policy change, a clean Ctrl-C", async (t) => {
    const nats = await startNats(t, { jetstream: true });
    const redis = await startRedis(t);
    const urls = { NATS_URL: nats.url, REDIS_URL: redis.url };
    const env = { ...process.env, ...urls };
    const demo = await startDemo(t, [], urls, 90_000);
    const pids = new Map(
      [...demo.out.matchAll(/started (\S+) pid (\d+)/g)].map((m) => [m[1] as string, Number(m[2])]),
    );
    assert.equal(pids.size, 11, [...pids.keys()].join());
    const { gateway } = demo;

    // one order: gateway → orders → inventory and payments, one trace id in every service's log
    const created = await order(gateway, DEMO_KEYS.acme);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const traceId = created.headers.get("traceparent")?.split("-")[1];
    assert.match(traceId ?? "", /^[0-9a-f]{32}$/);
    await eventually(
      () => {
        for (const service of ["orders", "inventory", "payments"]) {
          assert.match(
            demo.out,
            new RegExp(`\\[${service}#\\d\\] .*"trace_id":"${traceId}"`),
            `${service} logged the trace`,
          );
        }
      },
      5_000,
      50,
    );
    assert.ok(created.headers.get("x-request-id"));

    // globex spent its free-plan burst in the demo: over quota now, with Retry-After
    const limited = await order(gateway, DEMO_KEYS.globex);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error?.code, "QUOTA_EXCEEDED");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.equal((await order(gateway, undefined)).status, 401);

    // a payments instance killed mid-load: no request fails
    const results: number[] = [];
    const load = (async () => {
      for (let i = 0; i < 40; i++) {
        const batch = await Promise.all([
          order(gateway, DEMO_KEYS.acme, `c-load-${i}`),
          order(gateway, DEMO_KEYS.acme),
        ]);
        results.push(...batch.map((r) => r.status));
        await delay(25); // the pace of the load, so that it spans the kill
      }
    })();
    await waitFor("a quarter of the load to be answered", () => results.length >= 20, 30_000);
    process.kill(pids.get("payments#1") as number, "SIGKILL");
    await load;
    assert.equal(results.length, 80);
    assert.deepEqual(
      results.filter((s) => s !== 201),
      [],
      "every order made while a payments instance died succeeded",
    );

    // a lower timeout applied with the CLI changes the gateway's behaviour, no restart
    const dir = scratchDir(t, "demo-policy");
    const policy = parse(readFileSync(join(ROOT, "examples/policy.yaml"), "utf8")) as {
      services: { orders: { endpoints: { create: { timeoutMs: number } } } };
    };
    policy.services.orders.endpoints.create.timeoutMs = 5;
    const file = join(dir, "policy.yaml");
    writeFileSync(file, stringify(policy));
    const applied = await new Promise<{ code: number | null; output: string }>((resolve) =>
      execFile(
        process.execPath,
        [join(ROOT, "cli/bin/switchyard.mjs"), "policy", "apply", "-f", file, "--wait"],
        { cwd: ROOT, env },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code), output: stdout + stderr }),
      ),
    );
    assert.equal(applied.code, 0, applied.output);
    const slow = await order(gateway, DEMO_KEYS.acme);
    assert.equal(slow.status, 504, JSON.stringify(slow.body));
    assert.equal(slow.body.error?.code, "DEADLINE_EXCEEDED");

    // Ctrl-C: everything drains and exits; no process and no port is left
    assert.equal(await demo.interrupt(), 0);
    for (const [name, pid] of pids) assert.ok(!alive(pid), `${name} (pid ${pid}) still runs`);
    assert.equal(await isListening(demo.gatewayPort), false, "the gateway's port is free");
  });

  // Issue 14: the same demo on a broker that vouches every identity
  it("npm start -- --secure: the demo on rendered credentials; an order through the gateway, the printed CLI line works", async (t) => {
    const redis = await startRedis(t);
    const demo = await startDemo(t, ["--secure"], { NATS_URL: "", REDIS_URL: redis.url }, 120_000);
    const created = await order(demo.gateway, DEMO_KEYS.acme);
    assert.equal(created.status, 201, JSON.stringify(created.body));

    // the operator's line, as printed: its own server on loopback, the operator's seed
    const line =
      /^\s*NATS_URL=(nats:\/\/127\.0\.0\.1:\d+) NATS_NKEY=(\S+switchyard-cli\.nk) npx switchyard services ls$/m.exec(
        demo.out,
      );
    assert.ok(line, demo.out);
    const [, url, seed] = line as unknown as [string, string, string];
    const listed = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [join(ROOT, "cli/bin/switchyard.mjs"), "services", "ls", "--json"],
        { cwd: ROOT, env: { ...process.env, NATS_URL: url, NATS_NKEY: seed } },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
      ),
    );
    assert.equal(listed.code, 0, listed.stderr);
    const names = new Set((JSON.parse(listed.stdout) as Array<{ name: string }>).map((p) => p.name));
    for (const service of ["controller", "inventory", "orders", "payments"])
      assert.ok(names.has(service), listed.stdout);
    // without the operator's seed the broker lets nobody in
    const anonymous = await new Promise<number>((resolve) =>
      execFile(
        process.execPath,
        [join(ROOT, "cli/bin/switchyard.mjs"), "services", "ls"],
        { cwd: ROOT, env: { ...process.env, NATS_URL: url, NATS_NKEY: "" } },
        (error) => resolve(error === null ? 0 : Number(error.code)),
      ),
    );
    assert.notEqual(anonymous, 0);

    assert.equal(await demo.interrupt(), 0);
  });
});
