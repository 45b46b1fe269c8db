// Issue 2: docker-compose.yml stays in step with services/ and with the env the code reads.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const ROOT = new URL("..", import.meta.url).pathname;
const compose = readFileSync(join(ROOT, "docker-compose.yml"), "utf8");

test("every service with a main module runs in docker-compose.yml", () => {
  const services = readdirSync(join(ROOT, "services")).filter((s) =>
    existsSync(join(ROOT, "services", s, "src", "main.ts")),
  );
  assert.ok(services.length > 0);
  for (const service of services) {
    assert.match(compose, new RegExp(`services/${service}/src/main\\.ts`), `${service} missing from compose`);
  }
});

test("every module docker-compose.yml runs exists", () => {
  for (const [, path] of compose.matchAll(/"(services\/[^"]+\.ts)"/g)) {
    assert.ok(existsSync(join(ROOT, path as string)), `${path} does not exist`);
  }
});

test("the environment compose sets is what the code reads", () => {
  const set = new Set([...compose.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1] as string));
  const read = new Set<string>();
  for (const dir of [
    "mesh-runtime/src",
    ...readdirSync(join(ROOT, "services")).map((s) => `services/${s}/src`),
  ]) {
    for (const file of readdirSync(join(ROOT, dir), { recursive: true }) as string[]) {
      if (!file.endsWith(".ts")) continue;
      const text = readFileSync(join(ROOT, dir, file), "utf8");
      for (const m of text.matchAll(/process\.env\["([A-Z0-9_]+)"\]/g)) read.add(m[1] as string);
    }
  }
  for (const name of set) assert.ok(read.has(name), `compose sets ${name}, which no code reads`);
  // the standard OpenTelemetry variables are the operator's to add (docs/TELEMETRY.md)
  for (const name of read) {
    if (!name.startsWith("OTEL_"))
      assert.ok(set.has(name), `the code reads ${name}, which compose does not set`);
  }
});
