import { z } from "zod";

/**
 * Body of an error reply. `code` is a string so a caller can read codes added by a later
 * version; it maps unknown ones by `Nats-Service-Error-Code`.
 */
export const ErrorBody = z.object({
  code: z.string().min(1),
  message: z.string(),
  details: z.unknown().optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
