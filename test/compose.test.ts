// Issues 2 and 8: docker-compose.yml stays in step with services/, with the environment the code
// reads, and with the ports the code and Prometheus use.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";

const ROOT = new URL("..", import.meta.url).pathname;

interface ComposeService {
  command?: string[];
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
  return module === undefined ? [] : [{ name, module, service: s }];
});

/** The environment variables the code reads (`process.env["X"]` or `env["X"]`). */
function readByCode(): Set<string> {
  const read = new Set<string>();
  for (const dir of [
    "mesh-runtime/src",
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
      ours.some((o) => o.module === `services/${service}/src/main.ts`),
      `${service} missing from compose`,
    );
  }
  for (const { module } of ours) assert.ok(existsSync(join(ROOT, module)), `${module} does not exist`);
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
