// The demo under its own load, started once for two judges: first the load's verdict (issue 15,
// item 4: `npm start -- --load` stays green), then the dashboard in a real browser (Debian's
// chromium through playwright-core; issue 9: topology with live edges, a service's instances, a
// policy change acknowledged by every instance without a reload, quota denials; screenshots go to
// test-artifacts/, not committed) while the load goes on. The load's traffic fits examples/policy.yaml, except globex, which is meant to hit its
// free-plan quota (429s, counted apart), and the declined card c-broke (422s, designed); every
// other answer that is not 2xx is counted as failed.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { parse, stringify } from "yaml";
import { type RunningDemo, startDemo } from "./fixtures/demo.js";
import { eventually } from "./fixtures/eventually.js";
import { startNats } from "./fixtures/nats-server.js";
import { binary, freePort, scratchDir, suiteScope } from "./fixtures/processes.js";
import { startRedis } from "./fixtures/redis-server.js";

/** Answers the load must have had before it is judged: about 40 s at the default 20 a second. */
const ANSWERS = 600;

interface LoadLine {
  readonly byTenant: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly ok: number;
  readonly declined: number;
  readonly limited: number;
  readonly failed: number;
}

/** Reads one `load:` status line (scripts/load.ts `describeLoad`). */
function parseLoadLine(line: string): LoadLine {
  const verdict = / · (\d+) ok, (\d+) declined, (\d+) over quota, (\d+) failed$/.exec(line);
  assert.ok(verdict, `not a load status line: ${line}`);
  const [, ok, declined, limited, failed] = verdict.map(Number) as [number, number, number, number, number];
  const byTenant = new Map<string, Map<string, number>>();
  for (const part of line.slice(0, verdict.index).split(" · ")) {
    const [tenant, ...counts] = part.split(" ");
    byTenant.set(
      tenant as string,
      new Map(
        counts.map((c) => {
          const [status, n] = c.split("×");
          return [status as string, Number(n)];
        }),
      ),
    );
  }
  return { byTenant, ok, declined, limited, failed };
}

/** The `load:` status lines the demo has printed so far. */
const loadLines = (demo: RunningDemo) =>
  [...demo.out.matchAll(/^load: (.* failed)$/gm)].map((m) => m[1] as string);

const answered = (l: LoadLine) => l.ok + l.declined + l.limited + l.failed;

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

describe("the demo under load", () => {
  const scope = suiteScope();
  let demo: RunningDemo;
  let dashboard: string;
  let env: NodeJS.ProcessEnv;
  /** The load's counts when it was judged, before the browser ran beside it. */
  let judged: LoadLine;

  before(async () => {
    const nats = await startNats(scope, { jetstream: true });
    const redis = await startRedis(scope);
    const dashboardPort = await freePort();
    dashboard = `http://127.0.0.1:${dashboardPort}`;
    env = { ...process.env, NATS_URL: nats.url, REDIS_URL: redis.url };
    demo = await startDemo(
      scope,
      ["--load"],
      { NATS_URL: nats.url, REDIS_URL: redis.url, LOAD_RPS: "", DASHBOARD_PORT: String(dashboardPort) },
      120_000,
    );
  });

  it("npm start -- --load: 0 failed over its first 600 answers; the only 4xx are globex's 429s and the declined card's 422s", async () => {
    assert.match(demo.out, /load: about 20 requests\/s/);
    // a generous deadline: the machine is shared, and only the count of answers matters
    await eventually(
      () => {
        const last = loadLines(demo).at(-1);
        assert.ok(last !== undefined && answered(parseLoadLine(last)) >= ANSWERS, last ?? "no load line yet");
      },
      300_000,
      1_000,
    );
    const line = loadLines(demo).at(-1) as string;
    judged = parseLoadLine(line);
    const load = judged;
    const context = `counts: ${line}`;

    assert.equal(load.failed, 0, context);
    assert.deepEqual(new Set(load.byTenant.keys()), new Set(["acme", "globex"]), context);
    const acme = load.byTenant.get("acme") as ReadonlyMap<string, number>;
    const globex = load.byTenant.get("globex") as ReadonlyMap<string, number>;
    // acme orders and reads them back; its only refusals are the declined card's
    assert.ok((acme.get("201") ?? 0) > 0, context);
    assert.ok((acme.get("200") ?? 0) > 0, context);
    assert.ok((acme.get("422") ?? 0) > 0, context);
    for (const status of acme.keys()) assert.ok(["200", "201", "422"].includes(status), context);
    assert.equal(load.declined, acme.get("422"), context);
    // globex orders within its burst, then is over its quota
    assert.ok((globex.get("429") ?? 0) > 0, context);
    for (const status of globex.keys()) assert.ok(["201", "429"].includes(status), context);
    assert.equal(load.limited, globex.get("429"), context);
  });

  it("the dashboard in a browser: topology, a service page, a live policy rollout and quota denials", async (t) => {
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
    const base = dashboard;

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

  it("Ctrl-C: a clean exit, the counts printed once more", async () => {
    assert.equal(await demo.interrupt(), 0, demo.out.slice(-4_000));
    const final = /^load: final after \d+ s: (.* failed)$/m.exec(demo.out);
    assert.ok(final, "the status line is printed once more on exit");
    // the browser ran beside the load after it was judged: these counts only have to add up
    assert.ok(answered(parseLoadLine(final[1] as string)) >= answered(judged), final[1]);
  });
});
