import { controllerContract } from "@switchyard/controller";
import { MeshStatsResponse, type Policy, quotaBucket, quotaKey } from "@switchyard/schemas";
import { Cluster, Redis } from "ioredis";
import { type CommandContext, flagString, positional } from "../context.js";
import { CliError, ExitCode } from "../exit-codes.js";
import { print, table } from "../output.js";
import { gather } from "./services.js";

// each bucket's theoretical arrival time and Redis's clock, read in one round trip
const READ_TATS = `
local t = redis.call('TIME')
local out = { tonumber(t[1]) * 1000000 + tonumber(t[2]) }
for i = 1, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) or '0' end
return out
`;

type Rule = Policy["quotas"][number];
const COUNTERS = ["admitted", "denied", "shadowDenied", "failOpen", "failClosed", "local"] as const;

/** The rules that can apply to `tenant` on some service: its own, its plan's, and "*" ones. */
function rulesFor(policy: Policy, tenant: string): Rule[] {
  const t = policy.tenants;
  const plan = t.tenants[tenant]?.plan ?? (t.unknownTenants === "deny" ? undefined : t.unknownTenants.plan);
  return policy.quotas.filter(
    (r) =>
      (r.match.tenant === undefined || r.match.tenant === "*" || r.match.tenant === tenant) &&
      (r.match.plan === undefined || r.match.plan === plan),
  );
}

/** A comma-separated list is the startup nodes of a Redis Cluster. */
function connectRedis(urls: string): Redis | Cluster {
  const options = { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000 };
  if (!urls.includes(",")) return new Redis(urls, options);
  const nodes = urls.split(",").map((u) => {
    const url = new URL(u.trim());
    return { host: url.hostname, port: Number(url.port || 6379) };
  });
  return new Cluster(nodes, { lazyConnect: true, redisOptions: options });
}

async function remaining(redisUrl: string, tenant: string, rules: readonly Rule[]): Promise<number[]> {
  const redis = connectRedis(redisUrl);
  try {
    await redis.connect();
    const keys = rules.map((r) => quotaKey(tenant, r.name));
    const [now, ...tats] = (
      (await redis.eval(READ_TATS, keys.length, ...keys)) as Array<number | string>
    ).map(Number);
    return rules.map((rule, i) => {
      const { intervalUs, depth } = quotaBucket(rule);
      const tat = tats[i] ?? 0;
      if (tat <= (now ?? 0)) return depth;
      return Math.max(0, Math.min(depth, Math.floor(((now ?? 0) - (tat - depth * intervalUs)) / intervalUs)));
    });
  } catch (error) {
    throw new CliError(
      ExitCode.Unavailable,
      `cannot read quotas from redis at ${redisUrl}: ${(error as Error).message}`,
    );
  } finally {
    redis.disconnect();
  }
}

export const quotaCommands = {
  "quota status": {
    run: async (ctx: CommandContext) => {
      const tenant = positional(ctx, 0, "TENANT");
      const redisUrl = flagString(ctx, "redis") ?? process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379";
      const { document } = await (await ctx.mesh()).client(controllerContract).get({});
      const rules = rulesFor(document, tenant);
      const left = rules.length === 0 ? [] : await remaining(redisUrl, tenant, rules);
      const stats = await gather(ctx, "STATS", MeshStatsResponse, undefined);
      const rows = rules.map((rule, i) => {
        const counts = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<
          (typeof COUNTERS)[number],
          number
        >;
        for (const s of stats) {
          for (const e of s.endpoints) {
            const mine = e.data?.quota?.[`${rule.name}/${tenant}`];
            for (const c of COUNTERS) counts[c] += mine?.[c] ?? 0;
          }
        }
        return {
          rule: rule.name,
          scope: `${rule.match.service}.${rule.match.endpoint}`,
          rate: rule.rate,
          periodMs: rule.periodMs,
          burst: quotaBucket(rule).depth,
          remaining: left[i] ?? 0,
          shadow: rule.shadow ?? false,
          onStoreFailure: rule.onStoreFailure,
          ...counts,
        };
      });
      print(ctx.json, { tenant, rules: rows }, () =>
        rows.length === 0
          ? `no quota rule applies to ${tenant}`
          : table(
              [
                "RULE",
                "SCOPE",
                "LIMIT",
                "BURST",
                "REMAINING",
                "ADMITTED",
                "DENIED",
                "SHADOW-DENIED",
                "FAIL-OPEN",
                "LOCAL",
              ],
              rows.map((r) => [
                `${r.rule}${r.shadow ? " (shadow)" : ""}`,
                r.scope,
                `${r.rate}/${r.periodMs}ms`,
                r.burst,
                r.remaining,
                r.admitted,
                r.denied,
                r.shadowDenied,
                r.failOpen,
                r.local,
              ]),
            ),
      );
    },
  },
};
