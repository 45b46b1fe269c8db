import { errors } from "@nats-io/nats-core";
import {
  type DiscoveryVerb,
  discoverySubject,
  InfoResponse,
  PingResponse,
  parseJsonMessage,
  StatsResponse,
} from "@switchyard/schemas";
import type { z } from "zod";
import type { CommandContext } from "../context.js";
import { print, table } from "../output.js";

// discovery replies come from every instance; this is how long we listen for them
const GATHER_MS = 500;

/** Every instance's reply to a discovery verb, of one service or (undefined) of all. */
export async function gather<T extends z.ZodType<{ name: string; id: string }>>(
  ctx: CommandContext,
  verb: DiscoveryVerb,
  schema: T,
  service: string | undefined,
): Promise<Array<z.output<T>>> {
  const nc = (await ctx.mesh()).connection;
  const name = service;
  const replies = await nc.requestMany(discoverySubject(verb, name), "", {
    strategy: "timer",
    maxWait: GATHER_MS,
  });
  const out: Array<z.output<T>> = [];
  try {
    for await (const msg of replies) {
      const parsed = parseJsonMessage(schema, msg.data);
      // the broker vouches for the account that answered, not for the name in the body: a reply
      // naming another service than the one asked is a forgery (docs/PROTOCOL.md §14)
      if (parsed.success && (name === undefined || parsed.data.name === name)) out.push(parsed.data);
    }
  } catch (error) {
    // nobody answering discovery is an empty mesh, not a failure
    if (!(error instanceof errors.NoRespondersError)) throw error;
  }
  return out.sort((a, b) => `${a.name}/${a.id}`.localeCompare(`${b.name}/${b.id}`));
}

const ms = (ns: number) => (ns / 1e6).toFixed(2);

/** A command that prints every instance's reply to one discovery verb: raw with --json, else `human`. */
function discoveryCommand<T extends z.ZodType<{ name: string; id: string }>>(
  verb: DiscoveryVerb,
  schema: T,
  usage: string,
  summary: string,
  human: (replies: Array<z.output<T>>) => string,
) {
  return {
    usage,
    summary,
    run: async (ctx: CommandContext) => {
      const replies = await gather(ctx, verb, schema, ctx.args[0]);
      print(ctx.json, replies, () => human(replies));
    },
  };
}

export const servicesCommands = {
  "services ls": discoveryCommand(
    "PING",
    PingResponse,
    "services ls [SERVICE]",
    "every running instance ($SRV.PING)",
    (pings) =>
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
    "services info [SERVICE]",
    "instances with their endpoints ($SRV.INFO)",
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
  "services stats": discoveryCommand(
    "STATS",
    StatsResponse,
    "services stats [SERVICE]",
    "request and error counts, processing times ($SRV.STATS)",
    (stats) =>
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
