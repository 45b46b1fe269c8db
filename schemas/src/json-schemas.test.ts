import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { jsonSchemas } from "./json-schemas.js";

const dir = new URL("../json/", import.meta.url);

test("schemas/json is what the zod schemas generate (run `npm run generate`)", () => {
  const generated = jsonSchemas();
  assert.deepEqual(readdirSync(dir).sort(), Object.keys(generated).sort());
  for (const [file, schema] of Object.entries(generated)) {
    const onDisk = JSON.parse(readFileSync(new URL(file, dir), "utf8")) as unknown;
    assert.deepEqual(onDisk, schema, `${file} is stale`);
  }
});
