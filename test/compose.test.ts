// Issues 2, 8 and 14: docker-compose.yml stays in step with services/, with the environment the
// code reads, and with the ports the code and Prometheus use; NATS runs on the configuration
// `authz render` writes, every service connects with its own credential, and nothing is published
// beyond 127.0.0.1. Issue 17: the image runs compiled JavaScript only, so every command compose
// runs is started here from a local build, with plain node.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { promisify } from "node:util";
import { parse } from "yaml";
import { eventually } from "./fixtures/eventually.js";
import { buildPackages, consumerEnv } from "./fixtures/installed-packages.js";
import { suiteNats } from "./fixtures/nats-server.js";
import { freePort, ServerProcess, scratchDir, suiteScope } from "./fixtures/processes.js";
import { suiteRedis } from "./fixtures/redis-server.js";

const ROOT = new URL("..", import.meta.url).pathname;
const run = promisify(execFile);

interface ComposeService {
  build?: string;
  command?: string[];
  entrypoint?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
}
const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const prometheus = parse(readFileSync(join(ROOT, "examples/prometheus.yml"), "utf8")) as {
  scrape_configs: Array<{ dns_sd_configs: Array<{ names: string[]; port: number }> }>;
};

/** Compose services that run one of ours, by the module they run. */
const ours = Object.entries(compose.services).flatMap(([name, s]) => {
  const module = s.command?.find((part) => part.startsWith("services/"));
  // the identity is the service's folder: a canary (`payments-canary`) connects as `payments`
  return module === undefined ? [] : [{ name, identity: module.split("/")[1] as string, module, service: s }];
});

/** The environment variables the code reads (`process.env["X"]` or `env["X"]`). */
function readByCode(): Set<string> {
  const read = new Set<string>();
  for (const dir of [
    "mesh-runtime/src",
    "telemetry/src",
    ...readdirSync(join(ROOT, "services")).map((s) => `services/${s}/src`),
  ]) {
    for (const file of readdirSync(join(ROOT, dir), { recursive: true }) as string[]) {
      if (!file.endsWith(".ts") || file.endsWith(".test.ts")) continue;
      const text = readFileSync(join(ROOT, dir, file), "utf8");
      for (const m of text.matchAll(/env\["([A-Z0-9_]+)"\]/g)) read.add(m[1] as string);
    }
  }
  return read;
}

test("every service with a main module runs in docker-compose.yml, and every module it runs exists", () => {
  const services = readdirSync(join(ROOT, "services")).filter((s) =>
    existsSync(join(ROOT, "services", s, "src", "main.ts")),
  );
  assert.ok(services.length >= 5);
  for (const service of services) {
    assert.ok(
      ours.some((o) => o.module === `services/${service}/dist/main.js`),
      `${service} missing from compose (as its compiled services/${service}/dist/main.js)`,
    );
  }
  for (const name of ["inventory", "payments", "orders"]) {
    assert.equal(compose.services[name]?.deploy?.replicas, 2, `${name}: two instances`);
  }
});

test("the environment compose gives our services is what the code reads", () => {
  const read = readByCode();
  const set = new Set(ours.flatMap((o) => Object.keys(o.service.environment ?? {})));
  for (const name of set) {
    // the standard OpenTelemetry variables are read by the SDK, not by our code
    if (!name.startsWith("OTEL_")) assert.ok(read.has(name), `compose sets ${name}, which no code reads`);
  }
  // credentials and OpenTelemetry settings are the operator's to add (docs/SECURITY.md, TELEMETRY.md)
  const operators = /^(OTEL_|NATS_(NKEY|USER|PASSWORD|TOKEN)$)/;
  for (const name of read) {
    if (!operators.test(name)) assert.ok(set.has(name), `the code reads ${name}, which compose does not set`);
  }
});

test("ports agree: the gateway's, the metrics port in health checks and Prometheus's scrape targets", () => {
  const gateway = compose.services["gateway"];
  const port = gateway?.environment?.["GATEWAY_PORT"];
  assert.ok(
    gateway?.ports?.some((p) => p.endsWith(`:${port}`)),
    `the gateway publishes its GATEWAY_PORT ${port}`,
  );
  const scrape = prometheus.scrape_configs.flatMap((c) => c.dns_sd_configs);
  for (const { name, service } of ours) {
    const metrics = Number(service.environment?.["MESH_METRICS_PORT"]);
    assert.ok(metrics > 0, `${name} sets MESH_METRICS_PORT`);
    assert.equal(
      service.environment?.["MESH_METRICS_HOST"],
      "0.0.0.0",
      `${name}: metrics reachable from Prometheus`,
    );
    assert.ok(
      service.healthcheck?.test.some((part) => part.includes(`127.0.0.1:${metrics}/metrics`)),
      `${name}: the health check reads its metrics port`,
    );
    assert.ok(
      scrape.some((c) => c.names.includes(name) && c.port === metrics),
      `Prometheus scrapes ${name} on ${metrics}`,
    );
  }
});

/** Where `service` mounts the named volume `volume`, if it does. */
function mountOf(service: ComposeService | undefined, volume: string): string | undefined {
  const mount = service?.volumes?.find((v) => v.split(":")[0] === volume);
  return mount?.split(":")[1];
}

test("every published port is bound to 127.0.0.1", () => {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const port of service.ports ?? []) {
      assert.match(port, /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${port} beyond loopback`);
    }
  }
});

test("NATS runs on the rendered configuration, rendered before it starts", () => {
  const authz = compose.services["authz"];
  const command = authz?.command ?? [];
  assert.deepEqual(command.slice(command.indexOf("authz"), command.indexOf("authz") + 2), [
    "authz",
    "render",
  ]);
  const out = command[command.indexOf("--out") + 1];
  assert.ok(out !== undefined && command.includes("examples/policy.yaml"), command.join(" "));
  const secrets = authz?.volumes?.find((v) => v.split(":")[1] === out)?.split(":")[0];
  assert.ok(secrets, "authz renders into a named volume");
  const nats = compose.services["nats"];
  const at = mountOf(nats, secrets);
  assert.ok(at, "nats mounts the rendered volume");
  const natsCommand = nats?.command ?? [];
  assert.equal(natsCommand[natsCommand.indexOf("-c") + 1], `${at}/nats-server.conf`);
  assert.equal(nats?.depends_on?.["authz"]?.condition, "service_completed_successfully");
});

test("every service connects with its own credential from the rendered volume", () => {
  const secretsVolume = compose.services["authz"]?.volumes?.[0]?.split(":")[0] as string;
  const policy = readFileSync(join(ROOT, "examples/policy.yaml"), "utf8");
  const cli = { name: "cli", identity: "switchyard-cli", service: compose.services["cli"] as ComposeService };
  for (const { name, identity, service } of [...ours, cli]) {
    const at = mountOf(service, secretsVolume);
    assert.ok(at, `${name} mounts the rendered credentials`);
    assert.equal(
      service.environment?.["NATS_NKEY"],
      `${at}/${identity}.nk`,
      `${name} connects as ${identity}`,
    );
    assert.ok(policy.includes(identity), `examples/policy.yaml names ${identity}, so render makes its seed`);
  }
});

/** The command line each service of our image runs: its entrypoint and command. */
const imageCommands = Object.entries(compose.services)
  .filter(([, s]) => s.build !== undefined)
  .map(([name, s]) => ({ name, argv: [...(s.entrypoint ?? []), ...(s.command ?? [])] }));
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const imageCmd = JSON.parse(dockerfile.match(/^CMD (\[.*\])$/m)?.[1] ?? "[]") as string[];

describe("the image's command lines, from a local build", () => {
  const scope = suiteScope();
  const nats = suiteNats({ jetstream: true });
  const redis = suiteRedis();
  before(() => buildPackages());

  test("every command compose and the Dockerfile run is `node` on a compiled file that exists", () => {
    assert.ok(imageCommands.length >= 7, imageCommands.map((c) => c.name).join(", "));
    for (const { name, argv } of [...imageCommands, { name: "Dockerfile CMD", argv: imageCmd }]) {
      assert.equal(argv[0], "node", `${name} runs node`);
      assert.ok(!argv.some((a) => /tsx|\.ts$/.test(a)), `${name} needs no TypeScript: ${argv.join(" ")}`);
      const file = argv[1] as string;
      assert.match(file, /(^|\/)dist\/.+\.js$/, `${name} runs compiled output`);
      assert.ok(existsSync(join(ROOT, file)), `${name}: ${file} is not in the build`);
    }
  });

  test("every service's command starts with plain node and answers its health check", async () => {
    const started: Array<{ name: string; metrics: string; process: ServerProcess }> = [];
    for (const { name, service } of ours) {
      const metricsPort = await freePort();
      const { NATS_NKEY: _seed, OTEL_EXPORTER_OTLP_ENDPOINT: _jaeger, ...env } = service.environment ?? {};
      const local: Record<string, string> = {
        ...env,
        NATS_URL: nats.url,
        REDIS_URL: redis.url,
        MESH_METRICS_HOST: "127.0.0.1",
        MESH_METRICS_PORT: String(metricsPort),
      };
      // published ports become free loopback ones here
      for (const key of ["DASHBOARD_PORT", "GATEWAY_PORT"])
        if (key in local) local[key] = String(await freePort());
      for (const key of ["DASHBOARD_HOST", "GATEWAY_HOST"]) if (key in local) local[key] = "127.0.0.1";
      const argv = service.command ?? [];
      const child = new ServerProcess(process.execPath, argv.slice(1), { ...consumerEnv(), ...local });
      scope.after(() => child.stop());
      // node resolves from the working directory, as in the image's /app
      process.chdir(ROOT);
      child.start();
      started.push({ name, metrics: `http://127.0.0.1:${metricsPort}/metrics`, process: child });
    }
    for (const { name, metrics, process: child } of started) {
      await eventually(
        async () => {
          const res = await fetch(metrics).catch(() => undefined);
          assert.ok(res?.ok, `${name} answers ${metrics}\n${child.output}`);
        },
        60_000,
        100,
      );
    }
    const cli = imageCommands.find((c) => c.name === "cli")?.argv ?? [];
    const ls = await run(process.execPath, [...cli.slice(1), "services", "ls", "--json"], {
      cwd: ROOT,
      env: consumerEnv({ NATS_URL: nats.url }),
    });
    const names = new Set((JSON.parse(ls.stdout) as Array<{ name: string }>).map((i) => i.name));
    for (const { identity } of ours) assert.ok(names.has(identity), `the image's CLI lists ${identity}`);
  });

  test("the authz command renders the broker's configuration with plain node", async (t) => {
    const argv = compose.services["authz"]?.command ?? [];
    const out = scratchDir(t, "compose-authz");
    const args = argv
      .slice(1)
      .map((a, i, all) => (all[i - 1] === "--out" || all[i - 1] === "--store-dir" ? out : a));
    await run(process.execPath, args, { cwd: ROOT, env: consumerEnv() });
    assert.ok(existsSync(join(out, "nats-server.conf")), "nats-server.conf rendered");
    assert.ok(existsSync(join(out, "controller.nk")), "the controller's seed rendered");
  });
});
