// `npm start`: the example system. Uses NATS on NATS_URL (else 127.0.0.1:4222, else a nats-server
// it starts) and Redis on REDIS_URL (else 127.0.0.1:6379, else a redis-server it starts); starts
// the controller, applies examples/policy.yaml, starts two instances each of inventory, payments
// and orders (and a payments 2.0.0 canary), the gateway, and the Python recommendations service
// behind `switchyard sidecar` (when python3 is on PATH), and makes a few requests through the gateway.
// `--once` exits after them; `--load` keeps traffic flowing; otherwise Ctrl-C drains and stops
// everything it started. `--secure` starts its own nats-server on the configuration `switchyard
// authz render` writes for examples/policy.yaml: every process connects with its own identity,
// the policy is applied as the operator, and tenants must carry the gateway's signed token.
// The services' JSON log lines are shown one line each through pino-pretty, prefixed with the
// instance; `--json-logs` (or SWITCHYARD_JSON_LOGS=1) prints them raw.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { controllerContract } from "@switchyard/controller";
import { connectMesh, isMeshError, type Mesh } from "@switchyard/runtime";
import { CONTROLLER_SERVICE } from "@switchyard/schemas";
import { prettyFactory } from "pino-pretty";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { DEMO_KEYS } from "./demo-keys.js";
import { describeLoad, newLoadCounts, runLoad } from "./load.js";
import { freePort, isListening, onPath } from "./loopback.js";
import { type SecureBroker, startSecureBroker } from "./secure-broker.js";

const once = process.argv.includes("--once");
const load = process.argv.includes("--load");
const secure = process.argv.includes("--secure");
const jsonLogs = process.argv.includes("--json-logs") || process.env["SWITCHYARD_JSON_LOGS"] === "1";
/** The dashboard's port when neither DASHBOARD_PORT nor a process holds it: the one compose publishes. */
const DASHBOARD_DEFAULT_PORT = 8090;
const POLICY_FILE = "examples/policy.yaml";
/** Runs the Python example service; without it npm start runs the rest. */
const PYTHON = onPath("python3");
/** The identity the operator's tools connect as (the CLI's default name). */
const OPERATOR = "switchyard-cli";
const loadStop = new AbortController();
const children: ChildProcess[] = [];
const say = (line: string) => process.stdout.write(`${line}\n`);

/** A server from NATS_URL/REDIS_URL, the default port, or one started here on a free port. */
async function server(what: {
  env: string;
  defaultPort: number;
  scheme: string;
  binary: string;
  install: string;
  args: (port: number, dir: string) => string[];
}): Promise<string> {
  const fromEnv = process.env[what.env];
  if (fromEnv) return fromEnv;
  if (await isListening(what.defaultPort)) return `${what.scheme}://127.0.0.1:${what.defaultPort}`;
  const binary = onPath(what.binary);
  if (binary === undefined) {
    throw new Error(
      `nothing on ${what.env} or 127.0.0.1:${what.defaultPort}, and no ${what.binary} to start: install it (Debian: apt-get install ${what.install}) or set ${what.env}`,
    );
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `switchyard-${what.binary}-`));
  const child = spawn(binary, what.args(port, dir), { stdio: "ignore" });
  child.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  children.push(child);
  for (let i = 0; i < 100 && !(await isListening(port)); i++) await new Promise((r) => setTimeout(r, 50));
  say(`started ${what.binary} on 127.0.0.1:${port}`);
  return `${what.scheme}://127.0.0.1:${port}`;
}

interface Started {
  readonly name: string;
  readonly pid: number | undefined;
  readonly metricsUrl: string;
}

// one line per log event, the instance's JSON fields after the message (errors keep their stack);
// undefined with --json-logs
const pretty = jsonLogs
  ? undefined
  : prettyFactory({
      colorize: process.stdout.isTTY === true,
      singleLine: true,
      // what the prefix already says, and per-request bookkeeping --json-logs keeps
      ignore: "pid,hostname,service,span_id,attempt,tenantVerified,callerVerified",
      translateTime: "SYS:HH:MM:ss.l",
    });

/** A service's TypeScript entry point, run through tsx (npm start needs no build of the services). */
const typescriptMain = (name: string): readonly string[] => [
  process.execPath,
  "--import",
  "tsx",
  `services/${name}/src/main.ts`,
];

/** One kind of process the demo runs after the controller and the policy. */
interface DemoProcess {
  readonly name: string;
  readonly instances: number;
  /** The command line; default the service's TypeScript main. */
  readonly command?: readonly string[];
  /** Environment besides the servers' and its identity's. */
  readonly env?: (at: { gatewayPort: number }) => Record<string, string>;
  /** Wait until discovery sees every instance before starting the next entry (a mesh service). */
  readonly discoverable: boolean;
  /** The number of its first instance, when an earlier entry runs the same service; default 1. */
  readonly firstInstance?: number;
  /** False for a process that is not on the mesh (an app behind a sidecar): no servers, no identity. */
  readonly onMesh?: false;
}

/**
 * What `npm start` runs, in order, one entry per kind of process; one service at a time, since a
 * loaded machine connects two processes in time, not seven.
 */
const PROCESSES: readonly DemoProcess[] = [
  { name: "inventory", instances: 2, discoverable: true },
  { name: "payments", instances: 2, discoverable: true },
  { name: "orders", instances: 2, discoverable: true },
  // a payments 2.0.0 canary: examples/policy.yaml routes it nothing until a rollout does (README)
  {
    name: "payments",
    instances: 1,
    firstInstance: 3,
    discoverable: true,
    env: () => ({ PAYMENTS_VERSION: "2.0.0" }),
  },
  {
    name: "gateway",
    instances: 1,
    discoverable: false,
    env: ({ gatewayPort }) => ({
      GATEWAY_PORT: String(gatewayPort),
      GATEWAY_HOST: "127.0.0.1",
      GATEWAY_KEYS_FILE: "examples/api-keys.json",
    }),
  },
  // recommendations: Python (standard library only) behind `switchyard sidecar` (docs/SIDECAR.md)
  ...(PYTHON === undefined ? [] : recommendations(PYTHON, await freePort(), await freePort())),
];

/** The Python example app and its sidecar, on two loopback ports. */
function recommendations(python: string, appPort: number, sidecarPort: number): DemoProcess[] {
  const app = `http://127.0.0.1:${appPort}`;
  return [
    {
      name: "recommendations-app",
      instances: 1,
      discoverable: false,
      onMesh: false,
      command: [python, "examples/recommendations/app.py"],
      env: () => ({ APP_PORT: String(appPort), SIDECAR_URL: `http://127.0.0.1:${sidecarPort}` }),
    },
    {
      name: "recommendations",
      instances: 1,
      // it starts while the gateway does and the demo runs: nothing before its own call uses it
      discoverable: false,
      command: [
        process.execPath,
        "cli/bin/switchyard.mjs",
        "sidecar",
        "--app",
        app,
        "--port",
        String(sidecarPort),
        "--contract",
        "examples/recommendations/contract.json",
      ],
    },
  ];
}

/** Starts one service process with its own Prometheus port; its log lines are prefixed. */
async function startService(
  name: string,
  instance: number,
  env: Record<string, string>,
  command: readonly string[] = typescriptMain(name),
): Promise<Started> {
  const metricsPort = String(await freePort());
  // a Ctrl-C (or a SIGTERM) during start-up: start nothing more, or it would outlive the demo
  if (stopping) throw new Error(`stopping: ${name}#${instance} not started`);
  const [executable, ...args] = command as [string, ...string[]];
  const child = spawn(executable, args, {
    env: { ...process.env, ...env, MESH_METRICS_PORT: metricsPort, MESH_METRICS_HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const label = `${name}#${instance}`;
  if (child.stdout !== null) {
    createInterface({ input: child.stdout }).on("line", (line) => {
      // --json-logs: the line as the service wrote it (it names its service and pid), for jq & co.
      if (pretty === undefined) say(line);
      else for (const shown of pretty(line).split("\n")) if (shown) say(`[${label}] ${shown}`);
    });
  }
  children.push(child);
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  say(`started ${label} pid ${child.pid} metrics ${metricsUrl}`);
  return { name: label, pid: child.pid, metricsUrl };
}

async function stopAll(): Promise<void> {
  // the gateway and services first (they drain on SIGTERM), the servers we started last
  // newest first, until none is left running (a start-up in progress may still add one)
  for (;;) {
    const child = children.findLast(
      (c) => c.pid !== undefined && c.exitCode === null && c.signalCode === null,
    );
    if (child === undefined) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
}

/**
 * Runs `attempt` every 100 ms until it reports no failure; throws its last failure once
 * `timeoutMs` have passed.
 */
async function retryFor(timeoutMs: number, attempt: () => Promise<Error | undefined>): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const failure = await attempt();
    if (failure === undefined) return;
    if (Date.now() > until) throw failure;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** How many instances of `service` answer discovery within 200 ms. */
async function countInstances(mesh: Mesh, service: string): Promise<number> {
  let seen = 0;
  try {
    const replies = await mesh.connection.requestMany(`$SRV.PING.${service}`, "", {
      strategy: "timer",
      maxWait: 200,
    });
    for await (const _ of replies) seen++;
  } catch {
    // no responders yet
  }
  return seen;
}

/** Waits until `count` instances of `service` answer discovery. */
function waitForInstances(mesh: Mesh, service: string, count: number, timeoutMs = 60_000): Promise<void> {
  return retryFor(timeoutMs, async () => {
    const seen = await countInstances(mesh, service);
    return seen >= count
      ? undefined
      : new Error(`${service}: ${seen} of ${count} instances up after ${timeoutMs} ms`);
  });
}

/**
 * Waits until the controller answers discovery: polling one of its endpoints instead would open
 * the demo's circuit breaker while the controller starts, and print its warnings.
 */
const waitForController = (mesh: Mesh) => waitForInstances(mesh, CONTROLLER_SERVICE, 1);

/**
 * The example policy; on a vouching broker the gateway (whose key the broker knows) is the one
 * tenant issuer and a tenant without its signed token is refused.
 */
function examplePolicy(broker: SecureBroker | undefined): unknown {
  const document = parseYaml(readFileSync(POLICY_FILE, "utf8")) as { tenants: Record<string, unknown> };
  if (broker === undefined) return document;
  const verified = {
    ...document,
    tenants: {
      ...document.tenants,
      issuers: { gateway: { publicKey: broker.publicKey("gateway") } },
      require: "verified",
    },
  };
  return verified;
}

/** Applies the example policy; returns the file that holds what was applied (for the CLI line). */
async function applyExamplePolicy(mesh: Mesh, broker: SecureBroker | undefined): Promise<string> {
  await waitForController(mesh);
  const document = examplePolicy(broker);
  const file = broker === undefined ? POLICY_FILE : join(broker.folder, "policy.yaml");
  if (broker !== undefined) writeFileSync(file, stringifyYaml(document));
  const { version } = await mesh
    .client(controllerContract)
    .apply({ document, author: "npm start", note: POLICY_FILE });
  say(`applied ${file} as policy version ${version}`);
  return file;
}

/** One request to the gateway: the status and the JSON body. */
async function request(
  gatewayUrl: string,
  method: "GET" | "POST",
  path: string,
  key: string | undefined,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> {
  const res = await fetch(`${gatewayUrl}${path}`, {
    method,
    headers: {
      "Content-Type": "application/json",
      ...(key === undefined ? {} : { Authorization: `Bearer ${key}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    retryAfter: res.headers.get("retry-after"),
  };
}

const outcome = (r: { status: number; body: Record<string, unknown> }) => {
  const error = r.body["error"] as { code: string; message: string } | undefined;
  return error === undefined
    ? `${r.status} ${JSON.stringify(r.body)}`
    : `${r.status} ${error.code}: ${error.message}`;
};

/** The demo: what a client of the gateway sees. */
async function demo(gatewayUrl: string): Promise<void> {
  const order = { customerId: "c-42", lines: [{ sku: "WIDGET-1", quantity: 2 }] };
  const created = await request(gatewayUrl, "POST", "/orders", DEMO_KEYS.acme, order);
  say(`POST /orders (acme) → ${outcome(created)}`);
  const orderId = created.body["orderId"];
  if (typeof orderId === "string") {
    say(
      `GET /orders/${orderId} (acme) → ${outcome(await request(gatewayUrl, "GET", `/orders/${orderId}`, DEMO_KEYS.acme))}`,
    );
  }
  const failing: Array<[string, string | undefined, unknown]> = [
    ["too many GIZMO-3", DEMO_KEYS.acme, { customerId: "c-42", lines: [{ sku: "GIZMO-3", quantity: 50 }] }],
    ["an unknown SKU", DEMO_KEYS.acme, { customerId: "c-42", lines: [{ sku: "NOPE-0", quantity: 1 }] }],
    [
      "a declined card (the stock is released)",
      DEMO_KEYS.acme,
      { customerId: "c-broke", lines: [{ sku: "WIDGET-1", quantity: 1 }] },
    ],
    ["a bad input", DEMO_KEYS.acme, { customerId: "", lines: [] }],
    ["no API key", undefined, order],
    ["a revoked API key", DEMO_KEYS.revoked, order],
  ];
  for (const [what, key, body] of failing) {
    say(`POST /orders with ${what} → ${outcome(await request(gatewayUrl, "POST", "/orders", key, body))}`);
  }
  // globex is on the free plan: 5 orders at once, then 10 a minute (examples/policy.yaml)
  const statuses: string[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 7; i++) {
    const r = await request(gatewayUrl, "POST", "/orders", DEMO_KEYS.globex, {
      customerId: "c-7",
      lines: [{ sku: "GADGET-2", quantity: 1 }],
    });
    statuses.push(String(r.status));
    retryAfter ??= r.retryAfter;
  }
  say(
    `7 orders for globex (free plan) → ${statuses.join(", ")}${retryAfter ? ` (Retry-After: ${retryAfter} s)` : ""}`,
  );
}

function waitForGateway(url: string, timeoutMs = 60_000): Promise<void> {
  return retryFor(timeoutMs, async () => {
    const up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    return up ? undefined : new Error(`the gateway did not answer on ${url} within ${timeoutMs} ms`);
  });
}

/** `--load`'s traffic, settled once it has stopped and printed its final counts. */
let loadDone: Promise<void> | undefined;

/** `--load`: traffic through the gateway, with a line of counts every 5 s and once more at the end. */
function startLoad(gatewayUrl: string): void {
  const perSecond = Number(process.env["LOAD_RPS"] || 20);
  if (!(perSecond > 0 && perSecond <= 1_000)) throw new Error(`LOAD_RPS must be a number in (0, 1000]`);
  say(`load: about ${perSecond} requests/s through the gateway (LOAD_RPS); watch it with switchyard top`);
  const counts = newLoadCounts();
  const startedAt = Date.now();
  const report = setInterval(() => say(`load: ${describeLoad(counts)}`), 5_000);
  loadDone = runLoad(gatewayUrl, perSecond, loadStop.signal, counts).then(
    () => {
      clearInterval(report);
      const seconds = Math.round((Date.now() - startedAt) / 1_000);
      say(`load: final after ${seconds} s: ${describeLoad(counts)}`);
    },
    (error: unknown) => {
      clearInterval(report);
      say(
        `load: stopped by ${error instanceof Error ? error.message : String(error)}: ${describeLoad(counts)}`,
      );
    },
  );
}

/** The gateway's port: GATEWAY_PORT, else 8080 when free, else any free port. */
async function gatewayPort(): Promise<number> {
  const fromEnv = process.env["GATEWAY_PORT"];
  if (fromEnv) return Number(fromEnv);
  return (await isListening(8080)) ? await freePort() : 8080;
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  loadStop.abort();
  // the load's last answers are counted before the gateway drains
  await loadDone;
  say("draining and stopping…");
  await stopAll();
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  const broker = secure ? await startSecureBroker(POLICY_FILE) : undefined;
  if (broker !== undefined) {
    children.push(broker.process);
    say(`started nats-server on ${broker.url} with the configuration and credentials in ${broker.folder}`);
  }
  const natsUrl =
    broker?.url ??
    (await server({
      env: "NATS_URL",
      defaultPort: 4222,
      scheme: "nats",
      binary: "nats-server",
      install: "nats-server",
      args: (port, dir) => ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
    }));
  const redisUrl = await server({
    env: "REDIS_URL",
    defaultPort: 6379,
    scheme: "redis",
    binary: "redis-server",
    install: "redis-server",
    args: (port, dir) => ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir],
  });
  /** What a process of `name` runs with: the servers and, on the secure broker, its own seed. */
  const env = (name: string) => ({
    NATS_URL: natsUrl,
    REDIS_URL: redisUrl,
    ...(broker === undefined ? {} : { NATS_NKEY: broker.seedFile(name) }),
  });
  const dashboardPort =
    process.env["DASHBOARD_PORT"] ||
    String((await isListening(DASHBOARD_DEFAULT_PORT)) ? await freePort() : DASHBOARD_DEFAULT_PORT);
  const started = [
    await startService("controller", 1, { ...env("controller"), DASHBOARD_PORT: dashboardPort }),
  ];
  // only the operator may change the policy on the secure broker
  const mesh = await connectMesh({
    name: broker === undefined ? "demo" : OPERATOR,
    servers: natsUrl,
    logLevel: "warn",
    policy: { follow: false },
    ...(broker === undefined ? {} : { auth: { nkeyFile: broker.seedFile(OPERATOR) } }),
  });
  const port = await gatewayPort();
  let policyFile = POLICY_FILE;
  const gatewayUrl = `http://127.0.0.1:${port}`;
  try {
    policyFile = await applyExamplePolicy(mesh, broker);
    for (const p of PROCESSES) {
      const own = { ...(p.onMesh === false ? {} : env(p.name)), ...p.env?.({ gatewayPort: port }) };
      const first = p.firstInstance ?? 1;
      const last = first + p.instances - 1;
      for (let i = first; i <= last; i++) started.push(await startService(p.name, i, own, p.command));
      if (p.discoverable) await waitForInstances(mesh, p.name, last);
    }
    await waitForGateway(gatewayUrl);
    say(`gateway ${gatewayUrl}`);
    await demo(gatewayUrl);
    if (PYTHON !== undefined) {
      await waitForInstances(mesh, "recommendations", 1);
      const picks = await mesh
        .call("recommendations", "suggest", { customerId: "c-42" })
        .catch((e: unknown) => e);
      say(
        `recommendations.suggest (Python behind a sidecar) → ${isMeshError(picks) ? picks.code : JSON.stringify(picks)}`,
      );
    }
  } finally {
    await mesh.close();
  }
  if (once) {
    await shutdown(0);
  } else {
    const cli = `NATS_URL=${natsUrl}${broker ? ` NATS_NKEY=${broker.seedFile(OPERATOR)}` : ""} npx switchyard`;
    say(`
The mesh is running: NATS ${natsUrl}, Redis ${redisUrl}, the gateway on ${gatewayUrl}.
Try it (demo keys, published on purpose: examples/api-keys.json):
  curl -s -X POST ${gatewayUrl}/orders -H 'Authorization: Bearer ${DEMO_KEYS.acme}' -H 'Content-Type: application/json' -d '{"customerId":"c-1","lines":[{"sku":"WIDGET-1","quantity":1}]}'
  curl -s ${gatewayUrl}/orders/<orderId> -H 'Authorization: Bearer ${DEMO_KEYS.acme}'
  curl -si -X POST ${gatewayUrl}/orders -H 'Authorization: Bearer ${DEMO_KEYS.globex}' -H 'Content-Type: application/json' -d '{"customerId":"c-7","lines":[{"sku":"GADGET-2","quantity":1}]}'   # free plan: 429 after 5
Watch and steer it:
  the dashboard: http://127.0.0.1:${dashboardPort}
  ${cli} top
  ${cli} policy apply -f ${policyFile} --wait
  ${cli} services ls
  npx switchyard quota status globex --redis ${redisUrl}
${
  broker
    ? `The broker vouches every identity: the operator's seed is the one above, every other identity's
(<name>.nk) and the broker's configuration (nats-server.conf) are in ${broker.folder}, removed on exit.
`
    : ""
}Prometheus metrics:
  ${started.map((s) => `${s.name.padEnd(12)} ${s.metricsUrl}`).join("\n  ")}
Press Ctrl-C to drain and stop.`);
    if (load) startLoad(gatewayUrl);
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  await shutdown(1);
}
