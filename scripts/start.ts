// `npm start`: runs the example mesh (orders calling inventory) against NATS on NATS_URL, or on
// 127.0.0.1:4222, or on a nats-server it starts itself. `npm start -- --once` runs the demo calls
// and exits; without it the services keep running until Ctrl-C, which drains everything.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectMesh, isMeshError } from "@switchyard/runtime";
import { inventoryContract } from "@switchyard/service-inventory";
import { ordersContract } from "@switchyard/service-orders";

const once = process.argv.includes("--once");
const children: ChildProcess[] = [];
const say = (line: string) => process.stdout.write(`${line}\n`);

function canConnect(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(500);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, host);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

function onPath(name: string): string | undefined {
  for (const dir of [...(process.env["PATH"] ?? "").split(":"), "/usr/sbin", "/usr/local/sbin"]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

async function natsUrl(): Promise<string> {
  const fromEnv = process.env["NATS_URL"];
  if (fromEnv) return fromEnv;
  if (await canConnect(4222)) return "nats://127.0.0.1:4222";
  const binary = onPath("nats-server");
  if (binary === undefined) {
    throw new Error(
      "no NATS on NATS_URL or 127.0.0.1:4222, and no nats-server to start: install it (Debian: apt-get install nats-server) or set NATS_URL",
    );
  }
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), "switchyard-nats-"));
  const child = spawn(binary, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store], {
    stdio: "ignore",
  });
  child.once("exit", () => rmSync(store, { recursive: true, force: true }));
  children.push(child);
  for (let i = 0; i < 100 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 50));
  say(`started nats-server on 127.0.0.1:${port}`);
  return `nats://127.0.0.1:${port}`;
}

function startService(name: string, url: string): void {
  const child = spawn(process.execPath, ["--import", "tsx", `services/${name}/src/main.ts`], {
    env: { ...process.env, NATS_URL: url },
    stdio: ["ignore", "pipe", "inherit"],
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line) say(`[${name}] ${line}`);
  });
  children.push(child);
}

async function stopAll(): Promise<void> {
  // services first (they drain on SIGTERM), the nats-server we started last
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

async function demo(url: string): Promise<void> {
  const mesh = await connectMesh({ name: "demo", servers: url, logLevel: "warn" });
  try {
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
  } finally {
    await mesh.close();
  }
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
  const url = await natsUrl();
  startService("inventory", url);
  startService("orders", url);
  await demo(url);
  if (once) {
    await shutdown(0);
  } else {
    say(`\nThe mesh is running: orders → inventory on NATS at ${url}`);
    say('Try a raw protocol call (nats CLI): nats req mesh.svc.inventory.stock \'{"sku":"WIDGET-1"}\'');
    say("Press Ctrl-C to drain and stop.");
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  await shutdown(1);
}
