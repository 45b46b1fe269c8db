import { defineContract } from "@switchyard/runtime";
import { z } from "zod";

/**
 * The gateway's face on the mesh. Its work is HTTP, but it serves one endpoint so that it answers
 * discovery like any instance: its STATS carry what it saw of its own calls (breakers, CIRCUIT_OPEN
 * and other local failures), so `top` and the dashboard show gateway → orders from the caller's side.
 */
export const gatewayContract = defineContract({
  name: "gateway",
  version: "1.0.0",
  endpoints: {
    /** Whether this instance is up: for whoever the access rules let ask. */
    health: { input: z.object({}), output: z.object({ status: z.literal("ok") }), idempotent: true },
  },
});
