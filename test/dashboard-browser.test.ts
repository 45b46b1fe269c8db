// Issue 9: the dashboard in a real browser (Debian's chromium through playwright-core) against the
// example system under load: topology with live edges, a service's instances, a policy change
// acknowledged by every instance without a reload, quota denials. Screenshots go to
// test-artifacts/ (not committed).
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { chromium } from "playwright-core";
import { parse, stringify } from "yaml";
import { eventually } from "./fixtures/eventually.js";
import { startNats } from "./fixtures/nats-server.js";
import { binary, freePort, scratchDir } from "./fixtures/processes.js";
import { startRedis } from "./fixtures/redis-server.js";

// the page's DOM, as far as the predicates below run in the browser use it (this file is
// type-checked for Node, without the DOM library)
interface PageElement {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
};

const ROOT = new URL("..", import.meta.url).pathname;
const ARTIFACTS = join(ROOT, "test-artifacts");

describe("the dashboard in a browser", () => {
  it("topology, a service page, a live policy rollout and quota denials, under load", async (t) => {
    const nats = await startNats(t, { jetstream: true });
    const redis = await startRedis(t);
    const [gatewayPort, dashboardPort] = [await freePort(), await freePort()];
    const env = { ...process.env, NATS_URL: nats.url, REDIS_URL: redis.url };
    const demo: ChildProcess = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts", "--load"], {
      cwd: ROOT,
      env: {
        ...env,
        GATEWAY_PORT: String(gatewayPort),
        DASHBOARD_PORT: String(dashboardPort),
        LOAD_RPS: "25",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    demo.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
    });
    demo.stderr?.on("data", (c: Buffer) => {
      out += c.toString();
    });
    t.after(async () => {
      const exited = new Promise((r) => demo.once("exit", r));
      demo.kill("SIGINT");
      await exited;
    });
    await eventually(() => assert.match(out, /Press Ctrl-C to drain and stop/), 90_000, 100);

    const browser = await chromium.launch({
      executablePath: binary("chromium", "/usr/bin/chromium"),
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    });
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    mkdirSync(ARTIFACTS, { recursive: true });
    const base = `http://127.0.0.1:${dashboardPort}`;

    // topology: every example service, and the gateway → orders → inventory/payments edges live
    await page.goto(`${base}/#/topology`);
    for (const node of ["gateway", "orders", "inventory", "payments", "controller"]) {
      await page.locator(`[data-node="${node}"]`).waitFor({ timeout: 30_000 });
    }
    for (const edge of ["gateway>orders", "orders>inventory", "orders>payments"]) {
      await page.waitForFunction(
        (e) => {
          const text = document.querySelector(`[data-edge="${e}"] text`)?.textContent ?? "";
          return Number.parseFloat(text) > 0;
        },
        edge,
        { timeout: 30_000 },
      );
    }
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-topology.png"), fullPage: true });

    // a service page lists its instances
    await page.locator('[data-node="orders"]').click();
    await page.waitForFunction(
      () => document.querySelectorAll('table[data-table="instances"] tr').length === 3,
      undefined,
      {
        timeout: 15_000,
      },
    );
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-service-orders.png"), fullPage: true });

    // policy: a change applied with the CLI shows up, acknowledged by every instance, no reload
    await page.goto(`${base}/#/policy`);
    const before = Number(await page.locator("[data-policy-version]").textContent({ timeout: 15_000 }));
    const policy = parse(readFileSync(join(ROOT, "examples/policy.yaml"), "utf8")) as {
      services: { orders: { endpoints: { get: { timeoutMs: number } } } };
    };
    policy.services.orders.endpoints.get.timeoutMs = 900;
    const file = join(scratchDir(t, "dashboard-policy"), "policy.yaml");
    writeFileSync(file, stringify(policy));
    const applied = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [join(ROOT, "cli/bin/switchyard.mjs"), "policy", "apply", "-f", file, "--wait"],
        { cwd: ROOT, env },
        (error, stdout, stderr) => (error ? reject(new Error(stdout + stderr)) : resolve(stdout)),
      ),
    );
    assert.match(applied, /version/);
    await page.waitForFunction(
      (v) => {
        const shown = Number(document.querySelector("[data-policy-version]")?.textContent);
        const states = [...document.querySelectorAll("[data-state]")].map((e) =>
          e.getAttribute("data-state"),
        );
        return shown === v && states.length >= 7 && states.every((s) => s === "current");
      },
      before + 1,
      { timeout: 15_000 },
    );
    // and the readable diff of the change (the one before the current against the current)
    await page.waitForFunction(
      () =>
        (document.querySelector("[data-diff]")?.textContent ?? "").includes(
          "services.orders.endpoints.get.timeoutMs",
        ),
      undefined,
      { timeout: 10_000 },
    );
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-policy.png"), fullPage: true });

    // quotas: globex, over its free-plan quota under the load, shows denials
    await page.goto(`${base}/#/quotas`);
    await page.waitForFunction(
      () =>
        Number(
          document.querySelector('tr[data-tenant="globex"] [data-denied]')?.getAttribute("data-denied"),
        ) > 0,
      undefined,
      { timeout: 30_000 },
    );
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-quotas.png"), fullPage: true });
  });
});
