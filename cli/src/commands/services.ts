import { controllerContract, discoveryTargets, gatherDiscovery } from "@switchyard/controller";
import { isMeshError } from "@switchyard/runtime";
import {
  type DiscoveryVerb,
  InfoResponse,
  PingResponse,
  type Policy,
  StatsResponse,
} from "@switchyard/schemas";
import type { z } from "zod";
import type { CommandContext } from "../context.js";
import { CliError, ExitCode } from "../exit-codes.js";
import { print, table } from "../output.js";

// discovery replies come from every instance; this is how long we listen for them
const GATHER_MS = 500;

/** The policy in force, from the controller: its identities are who a vouching broker's discovery asks. */
async function currentPolicy(ctx: CommandContext): Promise<Policy | undefined> {
  try {
    return (await (await ctx.mesh()).client(controllerContract).get({})).document;
  } catch (error) {
    // no policy yet: the controller is all there is to ask
    if (isMeshError(error) && error.code === "NOT_FOUND") return undefined;
    throw new CliError(
      ExitCode.Unavailable,
      `the broker keeps each identity in its own account, so discovery asks each service the policy names; reading the policy from the controller failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/**
 * Every instance's reply to a discovery verb, of one service or (undefined) of all. Replies that
 * answer for another service than the one asked are dropped, and said so on stderr.
 */
export async function gather<T extends { name: string; id: string }>(
  ctx: CommandContext,
  verb: DiscoveryVerb,
  schema: z.ZodType<T>,
  service: string | undefined,
): Promise<T[]> {
  const nc = (await ctx.mesh()).connection;
  const targets = service === undefined ? await discoveryTargets(nc, () => currentPolicy(ctx)) : [service];
  const { replies, dropped } = await gatherDiscovery(nc, verb, schema, targets, GATHER_MS);
  if (dropped > 0)
    process.stderr.write(
      `switchyard: ${dropped} discovery replies dropped (invalid, or for another service)\n`,
    );
  return replies;
}

const ms = (ns: number) => (ns / 1e6).toFixed(2);

/** A command that prints every instance's reply to one discovery verb: raw with --json, else `human`. */
function discoveryCommand<T extends { name: string; id: string }>(
  verb: DiscoveryVerb,
  schema: z.ZodType<T>,
  human: (replies: T[]) => string,
) {
  return {
    run: async (ctx: CommandContext) => {
      const replies = await gather(ctx, verb, schema, ctx.args[0]);
      print(ctx.json, replies, () => human(replies));
    },
  };
}

export const servicesCommands = {
  "services ls": discoveryCommand("PING", PingResponse, (pings) =>
    table(
      ["SERVICE", "INSTANCE", "VERSION", "POLICY", "RUNTIME"],
      pings.map((p) => [
        p.name,
        p.id,
        p.version,
        p.metadata?.["switchyard.policy_version"],
        p.metadata?.["switchyard.runtime"],
      ]),
    ),
  ),
  "services info": discoveryCommand(
    "INFO",
    InfoResponse,
    (infos) =>
      infos
        .map((i) =>
          [
            `${i.name} ${i.version} (${i.id})${i.description ? ` — ${i.description}` : ""}`,
            ...i.endpoints.map((e) => `  ${e.name}  ${e.subject}  queue ${e.queue_group ?? "-"}`),
          ].join("\n"),
        )
        .join("\n") || "no instances",
  ),
  "services stats": discoveryCommand("STATS", StatsResponse, (stats) =>
    table(
      ["SERVICE", "INSTANCE", "ENDPOINT", "REQUESTS", "ERRORS", "AVG MS", "LAST ERROR"],
      stats.flatMap((s) =>
        s.endpoints.map((e) => [
          s.name,
          s.id,
          e.name,
          e.num_requests,
          e.num_errors,
          ms(e.average_processing_time),
          e.last_error,
        ]),
      ),
    ),
  ),
};
