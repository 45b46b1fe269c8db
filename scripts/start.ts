// `npm start`: the example mesh. Uses NATS on NATS_URL (else 127.0.0.1:4222, else a nats-server it
// starts) and Redis on REDIS_URL (else 127.0.0.1:6379, else a redis-server it starts); starts the
// controller, applies examples/policy.yaml, starts orders and inventory and makes a few calls.
// `npm start -- --once` exits after the calls; otherwise Ctrl-C drains and stops everything.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { controllerContract } from "@switchyard/controller";
import { connectMesh, isMeshError, type Mesh } from "@switchyard/runtime";
import { inventoryContract } from "@switchyard/service-inventory";
import { ordersContract } from "@switchyard/service-orders";
import { parse as parseYaml } from "yaml";
import { freePort, isListening, onPath } from "./loopback.js";

const once = process.argv.includes("--once");
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

/** Starts a service process with its own Prometheus port; returns its metrics URL. */
async function startService(name: string, env: Record<string, string>): Promise<string> {
  const metricsPort = String(await freePort());
  const child = spawn(process.execPath, ["--import", "tsx", `services/${name}/src/main.ts`], {
    env: { ...process.env, ...env, MESH_METRICS_PORT: metricsPort, MESH_METRICS_HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line) say(`[${name}] ${line}`);
  });
  children.push(child);
  return `http://127.0.0.1:${metricsPort}/metrics`;
}

async function stopAll(): Promise<void> {
  // services first (they drain on SIGTERM), the servers we started last
  for (const child of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
}

/** Polls until the service answers at all (NOT_FOUND counts: somebody is listening). */
async function waitUntilServing(probe: () => Promise<unknown>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe().catch((e: unknown) => e);
    if (!isMeshError(result) || result.code === "NOT_FOUND") return;
    if (Date.now() > until) throw result;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function applyExamplePolicy(mesh: Mesh): Promise<number> {
  const admin = mesh.client(controllerContract);
  await waitUntilServing(() => admin.status({}, { timeoutMs: 1_000 }));
  const document: unknown = parseYaml(readFileSync("examples/policy.yaml", "utf8"));
  const { version } = await admin.apply({ document, author: "npm start", note: "examples/policy.yaml" });
  say(`applied examples/policy.yaml as policy version ${version}`);
  return version;
}

async function demo(mesh: Mesh): Promise<void> {
  const orders = mesh.client(ordersContract);
  await waitUntilServing(() => orders.get({ orderId: "readiness-probe" }, { timeoutMs: 1_000 }));
  await waitUntilServing(() =>
    mesh.client(inventoryContract).stock({ sku: "WIDGET-1" }, { timeoutMs: 1_000 }),
  );
  const order = await orders.create(
    { customerId: "c-42", lines: [{ sku: "WIDGET-1", quantity: 2 }] },
    { tenant: "acme" },
  );
  say(`orders.create → ${JSON.stringify(order)}`);
  say(`orders.get → ${JSON.stringify(await orders.get({ orderId: order.orderId }, { tenant: "acme" }))}`);
  const failing: Array<[string, Parameters<typeof orders.create>[0]]> = [
    ["too many GIZMO-3", { customerId: "c-42", lines: [{ sku: "GIZMO-3", quantity: 50 }] }],
    ["an unknown SKU", { customerId: "c-42", lines: [{ sku: "NOPE-0", quantity: 1 }] }],
    ["a bad input", { customerId: "", lines: [] }],
  ];
  for (const [what, input] of failing) {
    const error = await orders.create(input, { tenant: "acme" }).catch((e: unknown) => e);
    say(`orders.create with ${what} → ${isMeshError(error) ? `${error.code}: ${error.message}` : "ok?"}`);
  }
  // globex is on the free plan: 5 orders at once, then 10 a minute (examples/policy.yaml)
  const codes: string[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await orders
      .create(
        { customerId: "c-7", lines: [{ sku: "GADGET-2", quantity: 1 }] },
        { tenant: "globex", maxAttempts: 1 },
      )
      .catch((e: unknown) => e);
    codes.push(isMeshError(r) ? r.code : "ok");
  }
  say(`7 orders for globex (free plan) → ${codes.join(", ")}`);
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say("draining and stopping…");
  await stopAll();
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  const natsUrl = await server({
    env: "NATS_URL",
    defaultPort: 4222,
    scheme: "nats",
    binary: "nats-server",
    install: "nats-server",
    args: (port, dir) => ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
  });
  const redisUrl = await server({
    env: "REDIS_URL",
    defaultPort: 6379,
    scheme: "redis",
    binary: "redis-server",
    install: "redis-server",
    args: (port, dir) => ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir],
  });
  const env = { NATS_URL: natsUrl, REDIS_URL: redisUrl };
  const metrics = [`controller ${await startService("controller", env)}`];
  const mesh = await connectMesh({
    name: "demo",
    servers: natsUrl,
    logLevel: "warn",
    policy: { follow: false },
  });
  try {
    await applyExamplePolicy(mesh);
    metrics.push(`inventory ${await startService("inventory", env)}`);
    metrics.push(`orders ${await startService("orders", env)}`);
    await demo(mesh);
  } finally {
    await mesh.close();
  }
  if (once) {
    await shutdown(0);
  } else {
    say(`\nThe mesh is running on NATS ${natsUrl} with quotas in Redis ${redisUrl}:`);
    say("  npx switchyard top");
    say("  npx switchyard services ls");
    say("  npx switchyard policy status");
    say(`  npx switchyard call inventory stock '{"sku":"WIDGET-1"}' --tenant acme`);
    say(`  npx switchyard quota status globex --redis ${redisUrl}`);
    say(`Prometheus metrics:\n  ${metrics.join("\n  ")}`);
    say("Press Ctrl-C to drain and stop.");
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  await shutdown(1);
}
