import { z } from "zod";

/**
 * One zod issue as `INVALID_ARGUMENT` details carry it on the wire (`details.issues`): `path` is
 * zod's own, object keys as strings and array indices as numbers (`[]` for the whole document).
 */
export const IssueDetail = z.object({
  path: z.array(z.union([z.string(), z.number()])),
  message: z.string(),
});
export type IssueDetail = z.infer<typeof IssueDetail>;

/** A zod error's issues in their one wire shape; every package maps issues through this. */
export function issueDetails(error: {
  readonly issues: ReadonlyArray<{ readonly path: readonly PropertyKey[]; readonly message: string }>;
}): IssueDetail[] {
  return error.issues.map((i) => ({
    // symbols never come out of parsed JSON, but a schema may use them: name them, never drop them
    path: i.path.map((key) => (typeof key === "symbol" ? String(key) : key)),
    message: i.message,
  }));
}
