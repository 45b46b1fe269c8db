import { defineContract } from "@switchyard/runtime";
import { z } from "zod";

// The contracts of the suites that time behaviour (fail-fast, cancellation, shedding): their
// endpoints carry no data, only what the suite measures.

const empty = { input: z.object({}), output: z.object({}) };

/** fail-fast: `run` throws (INTERNAL, to open the breaker), `limited` denies with a Retry-After. */
export const failingContract = defineContract({
  name: "bench-failing",
  version: "1.0.0",
  endpoints: { run: empty, limited: empty },
});

/** cancellation: `hold` runs until its signal aborts, `relay` calls `hold` (a hop in between). */
export const cancelContract = defineContract({
  name: "bench-cancel",
  version: "1.0.0",
  endpoints: { hold: empty, relay: empty },
});

/** shedding: `run` answers with the instance that served it. */
export const shedContract = defineContract({
  name: "bench-shed",
  version: "1.0.0",
  endpoints: { run: { input: z.object({}), output: z.object({ instance: z.string() }), idempotent: true } },
});
