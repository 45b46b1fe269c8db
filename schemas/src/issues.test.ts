import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { IssueDetail, issueDetails } from "./issues.js";

test("issue paths keep zod's keys and indices, and the whole document is []", () => {
  const schema = z.strictObject({ quotas: z.array(z.object({ rate: z.number().positive() })) });
  const parsed = schema.safeParse({ quotas: [{ rate: -1 }], bogus: true });
  assert.equal(parsed.success, false);
  const issues = issueDetails(parsed.error as z.ZodError);
  assert.deepEqual(issues.map((i) => i.path).sort(), [[], ["quotas", 0, "rate"]]);
  for (const issue of issues) assert.ok(IssueDetail.safeParse(issue).success);
});

test("a symbol key is named, never dropped", () => {
  const key = Symbol("k");
  assert.deepEqual(issueDetails({ issues: [{ path: [key, 1], message: "m" }] }), [
    { path: ["Symbol(k)", 1], message: "m" },
  ]);
});
