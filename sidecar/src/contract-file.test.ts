import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { defineContract, isMeshError } from "@switchyard/runtime";
import { z } from "zod";
import { contractFileOf, contractFileSchema, contractFromJson, readContractFile } from "./contract-file.js";

const EXAMPLE = new URL("../../examples/recommendations/contract.json", import.meta.url).pathname;

const invalid = (json: unknown, pattern: RegExp) =>
  assert.throws(
    () => contractFromJson(json),
    (e: unknown) => isMeshError(e) && e.code === "INVALID_ARGUMENT" && pattern.test(e.message),
  );

describe("contract files", () => {
  it("the example's endpoints check input and output by their JSON Schemas", () => {
    const { contract, paths } = readContractFile(EXAMPLE);
    assert.equal(contract.name, "recommendations");
    assert.equal(paths.get("suggest"), "/suggest");
    const suggest = contract.endpoints["suggest"];
    assert.ok(suggest);
    assert.equal(suggest.idempotent, true);
    assert.ok(suggest.input.safeParse({ customerId: "c-1", limit: 2 }).success);
    assert.ok(!suggest.input.safeParse({ customerId: "" }).success);
    assert.ok(!suggest.input.safeParse({ customerId: "c-1", extra: 1 }).success);
    assert.ok(suggest.output.safeParse({ customerId: "c", items: [{ sku: "A", available: 1 }] }).success);
    assert.ok(!suggest.output.safeParse({ customerId: "c" }).success);
  });

  it("an endpoint's path defaults to /<endpoint>", () => {
    const { paths } = contractFromJson({
      name: "s",
      version: "1.0.0",
      endpoints: { go: { input: {}, output: {} } },
    });
    assert.equal(paths.get("go"), "/go");
  });

  it("bad files are INVALID_ARGUMENT naming the problem", () => {
    invalid({ name: "bad name", version: "1.0.0", endpoints: { a: { input: {}, output: {} } } }, /name/);
    invalid({ name: "s", version: "one", endpoints: { a: { input: {}, output: {} } } }, /version/);
    invalid({ name: "s", version: "1.0.0", endpoints: {} }, /at least one endpoint/);
    invalid({ name: "s", version: "1.0.0", endpoints: { a: { input: {} } } }, /output/);
    invalid({ name: "s", version: "1.0.0", endpoints: { a: { input: {}, output: {}, path: "x" } } }, /path/);
    invalid(
      { name: "s", version: "1.0.0", endpoints: { a: { input: {}, output: {}, retries: 3 } } },
      /retries/,
    );
    assert.throws(
      () => readContractFile("/nonexistent/contract.json"),
      (e: unknown) => isMeshError(e) && e.code === "INVALID_ARGUMENT",
    );
  });

  it("a TypeScript contract round-trips through the file format", () => {
    const ts = defineContract({
      name: "stock",
      version: "2.1.0",
      endpoints: {
        level: {
          input: z.strictObject({ sku: z.string().regex(/^[A-Z]+$/) }),
          output: z.object({ available: z.number().int() }),
          idempotent: true,
          timeoutMs: 300,
        },
      },
    });
    const file = JSON.parse(JSON.stringify(contractFileOf(ts)));
    const { contract } = contractFromJson(file);
    const level = contract.endpoints["level"];
    assert.ok(level);
    assert.equal(level.timeoutMs, 300);
    assert.ok(level.input.safeParse({ sku: "AB" }).success);
    assert.ok(!level.input.safeParse({ sku: "ab" }).success);
    assert.ok(!level.input.safeParse({ sku: "AB", more: 1 }).success);
  });

  it("the example contract is valid JSON with the schema reference it names", () => {
    const json = JSON.parse(readFileSync(EXAMPLE, "utf8")) as { $schema?: string };
    assert.ok(json.$schema?.endsWith("sidecar/contract-file.schema.json"));
  });
});

it("sidecar/contract-file.schema.json is what `npm run generate` writes now", () => {
  const file = new URL("../contract-file.schema.json", import.meta.url);
  assert.deepEqual(
    JSON.parse(readFileSync(file, "utf8")),
    contractFileSchema(),
    "stale: run npm run generate",
  );
});
