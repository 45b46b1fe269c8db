// Issue 3: the switchyard CLI against a real mesh: policy, services, call; --json; exit codes.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { defineContract } from "@switchyard/runtime";
import { z } from "zod";
import { echoContract } from "./fixtures/contracts.js";
import { controllerFor } from "./fixtures/controller.js";
import { meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { scratchDir, suiteScope } from "./fixtures/processes.js";

const ROOT = new URL("..", import.meta.url).pathname;

const meteredContract = defineContract({
  name: "metered",
  version: "1.0.0",
  endpoints: { ping: { input: z.object({ n: z.number() }), output: z.object({ n: z.number() }) } },
});

const failingContract = defineContract({
  name: "failing",
  version: "1.0.0",
  endpoints: { boom: { input: z.object({}), output: z.object({}) } },
});

/** The caller's side of an edge, as `top --json` and the dashboard API give it. */
interface CallerSideJson {
  successRate: number | null;
  failures: Record<string, number>;
  breakers: { open: number };
  endpoints: Array<{ endpoint: string; breakers: { open: number }; failures: Record<string, number> }>;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(natsUrl: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, "cli/bin/switchyard.mjs"), ...args],
      { cwd: ROOT, env: { ...process.env, NATS_URL: natsUrl }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("switchyard CLI", () => {
  const scope = suiteScope();
  const dir = scratchDir(scope, "cli");
  let nats: NatsNode;
  before(async () => {
    nats = await startNats(scope, { jetstream: true });
    await controllerFor(scope, nats.url);
    for (let i = 0; i < 2; i++) {
      const mesh = await meshFor(scope, nats.url, "echo");
      await mesh.serve(echoContract, { say: ({ text }) => ({ text }), sayAgain: ({ text }) => ({ text }) });
    }
  });

  it("policy apply -f YAML --wait applies and waits for every instance; --json reports it", async () => {
    const file = join(dir, "policy.yaml");
    writeFileSync(file, "# comment\nservices:\n  echo:\n    timeoutMs: 1500\n");
    const run = await cli(nats.url, "policy", "apply", "-f", file, "--wait", "--json");
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as {
      version: number;
      instances: Array<{ service: string; state: string }>;
    };
    assert.ok(out.version >= 1);
    const echoes = out.instances.filter((i) => i.service === "echo");
    assert.equal(echoes.length, 2, run.stdout);
    for (const i of echoes) assert.equal(i.state, "current");

    const json = join(dir, "policy.json");
    writeFileSync(json, JSON.stringify({ services: { echo: { timeoutMs: 2000 } } }));
    const second = await cli(nats.url, "policy", "apply", "-f", json);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, new RegExp(`applied version ${out.version + 1}`));

    const history = await cli(nats.url, "policy", "history", "--json");
    const versions = (JSON.parse(history.stdout) as Array<{ version: number }>).map((v) => v.version);
    assert.deepEqual(versions.slice(0, 2), [out.version + 1, out.version]);
    const diff = await cli(nats.url, "policy", "diff", String(out.version), String(out.version + 1));
    assert.match(diff.stdout, /~ services\.echo\.timeoutMs: 1500 → 2000/);
    const rollback = await cli(nats.url, "policy", "rollback", String(out.version), "--wait");
    assert.equal(rollback.code, 0, rollback.stderr);
    const got = JSON.parse((await cli(nats.url, "policy", "get", "--json")).stdout) as {
      version: number;
      rollbackOf: number;
      document: { services: { echo: { timeoutMs: number } } };
    };
    assert.equal(got.rollbackOf, out.version);
    assert.equal(got.document.services.echo.timeoutMs, 1500);
    const status = await cli(nats.url, "policy", "status");
    assert.match(status.stdout, new RegExp(`current version ${got.version}`));
  });

  it("rollback --expected-version is refused with CONFLICT (exit 1) when stale, and rolls back when current", async () => {
    const file = join(dir, "guarded.yaml");
    writeFileSync(file, "services:\n  echo:\n    timeoutMs: 1700\n");
    const applied = await cli(nats.url, "policy", "apply", "-f", file, "--json");
    assert.equal(applied.code, 0, applied.stderr);
    const { version } = JSON.parse(applied.stdout) as { version: number };

    const rollback = (expected: number) =>
      cli(nats.url, "policy", "rollback", "1", "--expected-version", String(expected), "--json");
    const stale = await rollback(version - 1);
    assert.equal(stale.code, 1, stale.stdout);
    const { error } = JSON.parse(stale.stdout) as { error: { message: string; details: unknown } };
    assert.match(error.message, /^CONFLICT: /);
    assert.deepEqual(error.details, { currentVersion: version, expectedVersion: version - 1 });
    const unchanged = JSON.parse((await cli(nats.url, "policy", "get", "--json")).stdout) as {
      version: number;
    };
    assert.equal(unchanged.version, version, "a refused rollback publishes nothing");

    const current = await rollback(version);
    assert.equal(current.code, 0, current.stdout);
    const meta = JSON.parse(current.stdout) as { version: number; rollbackOf: number };
    assert.equal(meta.version, version + 1);
    assert.equal(meta.rollbackOf, 1);
  });

  it("an invalid policy exits 1 and lists every path", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "defaults:\n  timeoutMs: -1\nbogus: true\n");
    const run = await cli(nats.url, "policy", "apply", "-f", file, "--json");
    assert.equal(run.code, 1);
    const { error } = JSON.parse(run.stdout) as {
      error: { details: { issues: Array<{ path: Array<string | number> }> } };
    };
    assert.deepEqual(error.details.issues.map((i) => i.path.join(".")).sort(), ["", "defaults.timeoutMs"]);
  });

  it("--wait names the laggards and exits 3 when an instance does not catch up", async (t) => {
    // an instance that reports but never applies anything
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    const report = (status: string) =>
      nc.publish(
        "mesh.config.applied",
        JSON.stringify({
          instanceId: "stuck-1",
          service: "legacy",
          version: 0,
          status,
          at: new Date().toISOString(),
          heartbeatMs: 60_000,
        }),
      );
    report("heartbeat");
    await nc.flush();
    const file = join(dir, "p.yaml");
    writeFileSync(file, "services:\n  echo:\n    timeoutMs: 1000\n");
    const run = await cli(nats.url, "policy", "apply", "-f", file, "--wait", "--wait-timeout", "700");
    assert.equal(run.code, 3);
    assert.match(run.stderr, /legacy\/stuck-1 \(at v0\)/);
    report("stopped");
    await nc.flush();
  });

  it("services ls|info|stats read discovery; call prints replies and typed errors", async () => {
    const ls = JSON.parse((await cli(nats.url, "services", "ls", "echo", "--json")).stdout) as Array<{
      name: string;
    }>;
    assert.deepEqual(
      ls.map((p) => p.name),
      ["echo", "echo"],
    );
    const info = await cli(nats.url, "services", "info", "echo");
    assert.match(info.stdout, /say {2}mesh\.svc\.echo\.say {2}queue echo/);
    const call = await cli(nats.url, "call", "echo", "say", '{"text":"hi"}', "--tenant", "acme", "--json");
    assert.equal(call.code, 0, call.stderr);
    assert.deepEqual(JSON.parse(call.stdout), { text: "hi" });
    const stats = JSON.parse((await cli(nats.url, "services", "stats", "echo", "--json")).stdout) as Array<{
      endpoints: Array<{ name: string; num_requests: number }>;
    }>;
    const requests = stats.flatMap((s) => s.endpoints).filter((e) => e.name === "say");
    assert.equal(
      requests.reduce((n, e) => n + e.num_requests, 0),
      1,
    );
    const bad = await cli(nats.url, "call", "echo", "say", '{"text":1}');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /INVALID_ARGUMENT/);
    const nobody = await cli(nats.url, "call", "nobody", "x", "{}", "--timeout", "300");
    assert.equal(nobody.code, 4);
  });

  it("top --json shows every endpoint's call counts, success and a non-zero p99; top draws a table", async (t) => {
    for (let i = 0; i < 2; i++) {
      const mesh = await meshFor(t, nats.url, "metered");
      await mesh.serve(meteredContract, { ping: ({ n }) => ({ n }) });
    }
    const caller = await meshFor(t, nats.url, "caller");
    for (let n = 0; n < 40; n++) await caller.call("metered", "ping", { n });
    await caller.call("metered", "ping", { n: "x" }).catch(() => undefined);
    const top = await cli(nats.url, "top", "metered", "--json", "--interval", "200");
    assert.equal(top.code, 0, top.stderr);
    const snapshot = JSON.parse(top.stdout) as {
      endpoints: Array<{
        service: string;
        endpoint: string;
        instances: number;
        calls: number;
        errors: number;
        successRate: number;
        p99Ms: number;
        breakers: { closed: number };
      }>;
    };
    const ping = snapshot.endpoints.find((e) => e.endpoint === "ping");
    assert.ok(ping, top.stdout);
    assert.equal(ping.instances, 2);
    assert.equal(ping.calls, 41);
    assert.equal(ping.errors, 1);
    assert.equal(ping.successRate, 0.9756);
    assert.ok(ping.p99Ms > 0, `p99 ${ping.p99Ms}`);
    const live = await cli(nats.url, "top", "--count", "1", "--interval", "200");
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout, /SERVICE +ENDPOINT +INST +CALLS\/S/);
    assert.match(live.stdout, /metered +ping +2 /);
  });

  // issue 15: an edge failing at the caller (its breaker open) shows failing, never 100% success
  it("top --json and the table show what the caller saw of an edge: failures by code and its open breaker", async (t) => {
    const callee = await meshFor(t, nats.url, "failing");
    await callee.serve(failingContract, {
      boom: () => {
        throw new Error("always");
      },
    });
    // the caller answers STATS (it serves a service) and holds its breaker open for the whole test
    const caller = await meshFor(t, nats.url, "breaking-caller", { calls: { breaker: { openMs: 600_000 } } });
    await caller.serve(meteredContract, { ping: ({ n }) => ({ n }) });
    const codes = new Set<string>();
    for (let n = 0; n < 30; n++) {
      await caller.call("failing", "boom", {}).catch((e: { code: string }) => codes.add(e.code));
    }
    assert.ok(codes.has("CIRCUIT_OPEN"), [...codes].join());
    const top = await cli(nats.url, "top", "--json", "--interval", "200");
    assert.equal(top.code, 0, top.stderr);
    const { edges } = JSON.parse(top.stdout) as {
      edges: Array<{ caller: string; service: string; callerSide: CallerSideJson | null }>;
    };
    const edge = edges.find((e) => e.caller === "breaking-caller" && e.service === "failing");
    assert.ok(edge?.callerSide, top.stdout);
    assert.equal(edge.callerSide.successRate, 0);
    assert.ok((edge.callerSide.failures["CIRCUIT_OPEN"] ?? 0) > 0, JSON.stringify(edge.callerSide));
    assert.equal(edge.callerSide.breakers.open, 1);
    assert.deepEqual(
      edge.callerSide.endpoints.map((e) => [e.endpoint, e.breakers.open]),
      [["boom", 1]],
    );
    const live = await cli(nats.url, "top", "--count", "1", "--interval", "200");
    assert.equal(live.code, 0, live.stderr);
    assert.match(
      live.stdout,
      /CALLER +SERVICE +ENDPOINT +CALLEE CALLS\/S +CALLEE OK % +CALLER CALLS\/S +CALLER OK %/,
    );
    assert.match(live.stdout, /breaking-caller +failing +boom .* 0\.0 +.*CIRCUIT_OPEN \d+.* 1 open/);
  });

  it("usage errors exit 2 and --help exits 0", async () => {
    assert.equal((await cli(nats.url, "policy", "apply")).code, 2);
    assert.equal((await cli(nats.url, "frobnicate")).code, 2);
    assert.equal((await cli(nats.url, "call", "echo", "say", "{not json")).code, 2);
    assert.equal((await cli(nats.url, "--bogus-flag")).code, 2);
    const help = await cli(nats.url, "policy", "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /policy apply -f FILE/);
  });
});
