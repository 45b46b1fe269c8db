import { z } from "zod";
import { AppliedReport, Policy, PolicySnapshot } from "./policy.js";

/**
 * The JSON Schemas generated from the zod schemas, for editors and for clients in other languages:
 * file name → schema. `npm run generate` writes them to schemas/json/; a test fails when they are
 * stale.
 */
export function jsonSchemas(): Record<string, unknown> {
  const doc = (schema: z.ZodType, id: string) => ({
    ...z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }),
    $id: `https://switchyard.dev/schemas/${id}`,
  });
  return {
    "policy.schema.json": doc(Policy, "policy.schema.json"),
    "policy-snapshot.schema.json": doc(PolicySnapshot, "policy-snapshot.schema.json"),
    "applied-report.schema.json": doc(AppliedReport, "applied-report.schema.json"),
  };
}
