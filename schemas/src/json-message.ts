import type { z } from "zod";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Parses a message body as JSON and validates it; never throws (bad UTF-8 or JSON fail the parse). */
export function parseJsonMessage<T extends z.ZodType>(
  schema: T,
  data: Uint8Array,
): z.ZodSafeParseResult<z.output<T>> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    value = undefined;
  }
  return schema.safeParse(value) as z.ZodSafeParseResult<z.output<T>>;
}

/** A zod error as one line a person reads: `path: message; path: message` (at most `max` issues). */
export function summarizeIssues(error: z.ZodError, max = 20): string {
  return error.issues
    .slice(0, max)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}
