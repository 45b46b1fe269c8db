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
      if (parsed.success) out.push(parsed.data);
    }
  } catch (error) {
    // nobody answering discovery is an empty mesh, not a failure
    if (!(error instanceof errors.NoRespondersError)) throw error;
  }
  return out.sort((a, b) => `${a.name}/${a.id}`.localeCompare(`${b.name}/${b.id}`));
}

const ms = (ns: number) => (ns / 1e6).toFixed(2);

export const servicesCommands = {
  "services ls": {
    usage: "services ls [SERVICE]",
    summary: "every running instance ($SRV.PING)",
    run: async (ctx: CommandContext) => {
      const pings = await gather(ctx, "PING", PingResponse, ctx.args[0]);
      print(ctx.json, pings, () =>
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
      );
    },
  },
  "services info": {
    usage: "services info [SERVICE]",
    summary: "instances with their endpoints ($SRV.INFO)",
    run: async (ctx: CommandContext) => {
      const infos = await gather(ctx, "INFO", InfoResponse, ctx.args[0]);
      print(
        ctx.json,
        infos,
        () =>
          infos
            .map((i) =>
              [
                `${i.name} ${i.version} (${i.id})${i.description ? ` — ${i.description}` : ""}`,
                ...i.endpoints.map((e) => `  ${e.name}  ${e.subject}  queue ${e.queue_group ?? "-"}`),
              ].join("\n"),
            )
            .join("\n") || "no instances",
      );
    },
  },
  "services stats": {
    usage: "services stats [SERVICE]",
    summary: "request and error counts, processing times ($SRV.STATS)",
    run: async (ctx: CommandContext) => {
      const stats = await gather(ctx, "STATS", StatsResponse, ctx.args[0]);
      print(ctx.json, stats, () =>
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
      );
    },
  },
};
