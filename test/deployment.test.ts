// Issue 17: every configuration docs/DEPLOYMENT.md shows, started on loopback: the blocks are read
// from the page itself (a fenced block whose first line is `# deployment: <name>`), their hosts and
// ports mapped to free loopback ones, so the page and this test cannot drift apart.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { controllerContract } from "@switchyard/controller";
import type { Mesh } from "@switchyard/runtime";
import { echoContract } from "./fixtures/contracts.js";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { discoveredIds, meshFor } from "./fixtures/mesh.js";
import {
  binary,
  type Cleanup,
  freePort,
  launchServer,
  makeDir,
  type ServerNode,
  ServerProcess,
  scratchDir,
} from "./fixtures/processes.js";

const run = promisify(execFile);
const ROOT = new URL("..", import.meta.url).pathname;
const NATS_SERVER = binary("nats-server", "/usr/sbin/nats-server");
const page = readFileSync(join(ROOT, "docs/DEPLOYMENT.md"), "utf8");

/** The block of docs/DEPLOYMENT.md named `name`. */
function block(name: string): string {
  for (const m of page.matchAll(/```\w*\n([\s\S]*?)```/g)) {
    const text = m[1] as string;
    if (text.trimStart().startsWith(`# deployment: ${name}\n`)) return text;
  }
  throw new Error(`docs/DEPLOYMENT.md has no block "# deployment: ${name}"`);
}

/** `text` with every `host:port` (or `scheme://host:port`) the map names replaced by its loopback one. */
function localize(text: string, ports: Readonly<Record<string, number>>, storeDir?: string): string {
  let out = text.replace(/\b([\w.-]+):(\d+)\b/g, (whole, host: string, port: string) => {
    const to = ports[`${host}:${port}`];
    return to === undefined ? whole : `127.0.0.1:${to}`;
  });
  if (storeDir !== undefined) out = out.replace("/var/lib/nats/jetstream", storeDir);
  // several nodes of the page are one here: a list names each address once (servers refuse repeats)
  out = out.replace(/urls: \[([^\]]*)\]/g, (_whole, list: string) => {
    const urls = [...new Set(list.split(",").map((u) => u.trim()))];
    return `urls: [${urls.join(", ")}]`;
  });
  assert.ok(!/0\.0\.0\.0/.test(out), `an address left unmapped:\n${out}`);
  return out;
}

/** nats-server on a configuration file; stopped (and its store removed) when `t` ends. */
async function natsOn(
  t: Cleanup,
  config: string,
  clientPort: number,
  dirs: string[] = [],
): Promise<ServerNode> {
  const dir = scratchDir(t, "deployment-conf");
  const file = join(dir, "nats-server.conf");
  writeFileSync(file, config);
  return launchServer(t, { scheme: "nats", command: NATS_SERVER, args: ["-c", file] }, clientPort, dirs);
}

/**
 * Three nodes from the page's node file on free loopback ports; `extra(i)` adds to node i's file and
 * `clusterName` replaces the page's (a supercluster's clusters are named as their gateways).
 */
async function clusterFromPage(
  t: Cleanup,
  clusterName = "switchyard",
  extra: (i: number) => string = () => "",
): Promise<{ nodes: ServerNode[]; ports: { client: number[]; route: number[]; http: number[] } }> {
  const ports = { client: [] as number[], route: [] as number[], http: [] as number[] };
  for (let i = 0; i < 3; i++) {
    ports.client.push(await freePort());
    ports.route.push(await freePort());
    ports.http.push(await freePort());
  }
  const routes = Object.fromEntries(ports.route.map((p, i) => [`nats-${i + 1}:6222`, p]));
  const nodes: ServerNode[] = [];
  const starting = [];
  for (let i = 0; i < 3; i++) {
    const store = makeDir(`deployment-js-${i + 1}`);
    const config = localize(
      block("cluster-node")
        .replace("server_name: nats-1", `server_name: ${clusterName}-${i + 1}`)
        .replace("name: switchyard", `name: ${clusterName}`),
      {
        ...routes,
        "0.0.0.0:4222": ports.client[i] as number,
        "0.0.0.0:8222": ports.http[i] as number,
        "0.0.0.0:6222": ports.route[i] as number,
      },
      store,
    );
    // together: a JetStream cluster waits for its routes before it listens for clients
    starting.push(natsOn(t, `${config}\n${extra(i)}`, ports.client[i] as number, [store]));
  }
  nodes.push(...(await Promise.all(starting)));
  return { nodes, ports };
}

/** How many instances of `service` answer discovery within 300 ms. */
const instances = async (mesh: Mesh, service: string) => (await discoveredIds(mesh, service, 300)).length;

const policy = (timeoutMs: number) => ({ services: { echo: { endpoints: { say: { timeoutMs } } } } });

describe("docs/DEPLOYMENT.md, started", () => {
  it("a three-node cluster from the node file, two controllers with its environment: R3 bucket, a node and a controller lost", async (t) => {
    const { nodes, ports } = await clusterFromPage(t);
    // the controllers' environment, as the page gives it, with the nodes' loopback addresses
    const env = Object.fromEntries(
      block("controller-env")
        .split("\n")
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    const clients = Object.fromEntries(ports.client.map((p, i) => [`nats-${i + 1}:4222`, p]));
    env["NATS_URL"] = localize(env["NATS_URL"] ?? "", clients);
    assert.equal(env["POLICY_REPLICAS"], "3");
    const urls = (env["NATS_URL"] as string).split(",");
    assert.equal(urls.length, 3);
    const controllers = [];
    for (let i = 0; i < 2; i++) {
      const controller = new ServerProcess(
        process.execPath,
        ["--import", "tsx", "services/controller/src/main.ts"],
        {
          ...process.env,
          ...env,
          MESH_METRICS_PORT: String(await freePort()),
        },
      );
      t.after(() => controller.kill());
      controller.start();
      controllers.push(controller);
    }
    const admin = await meshFor(t, urls, "deployment-admin", { policy: { follow: false } });
    const control = admin.client(controllerContract);
    const first = await eventually(() => control.apply({ document: policy(1_000) }), 60_000, 200);
    await waitFor(
      "both controllers in the queue group",
      async () => (await instances(admin, "controller")) === 2,
      60_000,
      100,
    );
    const jsm = await jetstreamManager(admin.connection);
    const info = await jsm.streams.info("KV_mesh-policy");
    assert.equal(info.config.num_replicas, 3, "the policy bucket has three replicas");

    await nodes[2]?.process.kill();
    const second = await eventually(
      () => control.apply({ document: policy(1_500), expectedVersion: first.version }),
      30_000,
      200,
    );
    assert.equal(second.version, first.version + 1);
    await controllers[0]?.kill();
    const current = await eventually(() => control.get({}, { timeoutMs: 1_000 }), 30_000, 100);
    assert.equal(current.version, second.version, "the other controller answers from the bucket");
  });

  it("durable writes: the installed nats-server takes `sync_interval: always`, or (2.9) refuses it by name", async (t) => {
    const store = scratchDir(t, "deployment-sync");
    const file = join(store, "durable.conf");
    writeFileSync(
      file,
      `listen: 127.0.0.1:${await freePort()}\n${localize(block("durable-writes"), {}, store)}`,
    );
    const { stdout } = await run(NATS_SERVER, ["--version"]);
    const version = stdout.match(/v(\d+)\.(\d+)/);
    const checked = await run(NATS_SERVER, ["-c", file, "-t"]).then(
      () => "accepted",
      (e: { stderr?: string; stdout?: string }) => `${e.stderr ?? ""}${e.stdout ?? ""}`,
    );
    t.diagnostic(`nats-server ${stdout.trim()}: ${checked}`);
    if (Number(version?.[1]) === 2 && Number(version?.[2]) <= 9) {
      assert.match(checked, /unknown field "sync_interval"/, "2.9 has no sync_interval (as the page says)");
    } else {
      assert.equal(checked, "accepted");
    }
  });

  it("a supercluster from the gateway block: calls cross regions, stay local when they can, and the policy reaches both", async (t) => {
    const gw = { eu: [await freePort(), await freePort(), await freePort()], us: await freePort() };
    const gatewayPorts = {
      "nats-1:7222": gw.eu[0] as number,
      "nats-2:7222": gw.eu[1] as number,
      "nats-3:7222": gw.eu[2] as number,
      "nats-4:7222": gw.us,
      "nats-5:7222": gw.us,
      "nats-6:7222": gw.us,
    };
    const euCluster = await clusterFromPage(t, "eu", (i) =>
      localize(block("gateway-eu"), { ...gatewayPorts, "0.0.0.0:7222": gw.eu[i] as number }),
    );
    const eu = euCluster.nodes[0] as ServerNode;
    const usClient = await freePort();
    const us = await natsOn(
      t,
      `server_name: us-1\nlisten: 127.0.0.1:${usClient}\n${localize(block("gateway-eu").replace("name: eu\n  listen", "name: us\n  listen"), { ...gatewayPorts, "0.0.0.0:7222": gw.us })}`,
      usClient,
    );
    const serve = async (url: string, region: string) => {
      const mesh = await meshFor(t, url, "echo", { policy: { follow: false } });
      await mesh.serve(echoContract, { say: () => ({ text: region }), sayAgain: ({ text }) => ({ text }) });
    };
    await serve(us.url, "us");
    // region locality is the queue group's (DEPLOYMENT.md §5): p2c-ewma picks across regions
    const caller = await meshFor(t, eu.url, "caller", {
      policy: { follow: false },
      calls: { balance: "queue-group" },
    });
    const echo = caller.client(echoContract);
    const across = await eventually(() => echo.say({ text: "x" }, { timeoutMs: 1_000 }), 30_000, 100);
    assert.equal(across.text, "us", "eu reaches us's only instance");
    await serve(eu.url, "eu");
    await waitFor("eu's own instance", async () => (await instances(caller, "echo")) === 2, 30_000, 50);
    const answers = new Set<string>();
    for (let i = 0; i < 20; i++) answers.add((await echo.say({ text: "x" })).text);
    assert.deepEqual([...answers], ["eu"], "with an instance at home, no call leaves the region");

    // the bucket in eu, a runtime in us following it across the gateway
    await controllerInProcess(t, eu.url);
    const usRuntime = await meshFor(t, us.url, "echo-follower");
    const admin = await meshFor(t, eu.url, "deployment-admin", { policy: { follow: false } });
    const { version } = await eventually(
      () => admin.client(controllerContract).apply({ document: policy(900) }),
      30_000,
      200,
    );
    await waitFor(
      `us's runtime at version ${version}`,
      () => usRuntime.policyVersion === version,
      30_000,
      50,
    );
  });

  it("a leaf node from the hub and leaf blocks: the hub calls the edge's service, the edge calls the hub's", async (t) => {
    const leafPort = await freePort();
    const hubClient = await freePort();
    const edgeClient = await freePort();
    const store = makeDir("deployment-hub-js");
    const hub = await natsOn(
      t,
      `server_name: hub-1\nlisten: 127.0.0.1:${hubClient}\njetstream { store_dir: "${store}" }\n${localize(block("leaf-hub"), { "0.0.0.0:7422": leafPort })}`,
      hubClient,
      [store],
    );
    const edge = await natsOn(
      t,
      localize(block("leaf-node"), {
        "0.0.0.0:4222": edgeClient,
        "nats-1:7422": leafPort,
        "nats-2:7422": leafPort,
        "nats-3:7422": leafPort,
      }),
      edgeClient,
    );
    const atEdge = await meshFor(t, edge.url, "echo");
    await atEdge.serve(echoContract, { say: () => ({ text: "edge" }), sayAgain: ({ text }) => ({ text }) });
    const atHub = await meshFor(t, hub.url, "caller", { policy: { follow: false } });
    const reply = await eventually(
      () => atHub.client(echoContract).say({ text: "x" }, { timeoutMs: 1_000 }),
      30_000,
      100,
    );
    assert.equal(reply.text, "edge");
    await atHub.serve(echoContract, { say: () => ({ text: "hub" }), sayAgain: ({ text }) => ({ text }) });
    const back = await eventually(
      () => atEdge.client(echoContract).sayAgain({ text: "from the edge" }, { timeoutMs: 1_000 }),
      30_000,
      100,
    );
    assert.equal(back.text, "from the edge");
  });
});

/** A controller in this process on `url` (its bucket where that server's JetStream is). */
async function controllerInProcess(t: Cleanup, url: string): Promise<void> {
  const { controllerFor } = await import("./fixtures/controller.js");
  await controllerFor(t, url, 1);
}
