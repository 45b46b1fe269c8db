import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { defineContract } from "./define-contract.js";
import { isMeshError } from "./errors.js";

const endpoint = { input: z.object({}), output: z.object({}) };

test("a valid contract comes back frozen", () => {
  const contract = defineContract({ name: "orders", version: "1.0.0", endpoints: { get: endpoint } });
  assert.ok(Object.isFrozen(contract));
  assert.ok(Object.isFrozen(contract.endpoints));
});

test("a bad contract is INVALID_ARGUMENT listing every problem, not a ZodError", () => {
  const error = (() => {
    try {
      defineContract({ name: "bad name", version: "one", endpoints: { get: endpoint } });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(isMeshError(error), "a MeshError");
  assert.equal(error.code, "INVALID_ARGUMENT");
  const paths = (error.details as { issues: { path: string[] }[] }).issues.map((i) => i.path.join("."));
  assert.deepEqual(paths.sort(), ["name", "version"]);
});
