import { errors, type NatsConnection } from "@nats-io/nats-core";
import {
  CONTROLLER_SERVICE,
  type DiscoveryVerb,
  discoverySubject,
  type Policy,
  parseJsonMessage,
} from "@switchyard/schemas";
import type { z } from "zod";

/** The operator's identity: a caller only, it answers no discovery. */
const OPERATOR = "switchyard-cli";

/** What one discovery round brought back. */
export interface Gathered<T> {
  /** Valid replies, sorted by service and instance. */
  readonly replies: T[];
  /** Replies refused: invalid, or naming another service than the one asked. */
  readonly dropped: number;
  /** Time spent parsing and checking replies (gathering is otherwise waiting), ms. */
  readonly parseMs: number;
}

/**
 * Who a gatherer asks. On a broker that vouches identity (one account per identity) a bare
 * `$SRV.<VERB>` reaches only the gatherer's own account, so it asks `$SRV.<VERB>.<service>` for
 * every identity the policy names (read only then); on an open broker, undefined: the bare
 * subject reaches every instance.
 */
export async function discoveryTargets(
  nc: NatsConnection,
  policy: () => Promise<Policy | undefined>,
): Promise<string[] | undefined> {
  if (nc.info?.auth_required !== true) return undefined;
  const current = await policy();
  const names = new Set<string>([CONTROLLER_SERVICE, ...Object.keys(current?.services ?? {})]);
  for (const rule of current?.access.rules ?? []) {
    for (const name of [rule.from, rule.to]) if (name !== "*") names.add(name);
  }
  names.delete(OPERATOR);
  return [...names].sort();
}

/**
 * Every instance's reply to `verb`, from the bare subject (`services` undefined) or from each
 * service's own subject. An asked service's reply must carry that service's name: the broker
 * vouches for the account a reply came from, not for what its body says.
 */
export async function gatherDiscovery<T extends { name: string; id: string }>(
  nc: NatsConnection,
  verb: DiscoveryVerb,
  schema: z.ZodType<T>,
  services: readonly string[] | undefined,
  maxWaitMs: number,
): Promise<Gathered<T>> {
  const asked = services === undefined ? [undefined] : services;
  const rounds = await Promise.all(asked.map((service) => ask(nc, verb, schema, service, maxWaitMs)));
  const replies = rounds.flatMap((r) => r.replies);
  return {
    replies: replies.sort((a, b) => `${a.name}/${a.id}`.localeCompare(`${b.name}/${b.id}`)),
    dropped: rounds.reduce((n, r) => n + r.dropped, 0),
    parseMs: rounds.reduce((n, r) => n + r.parseMs, 0),
  };
}

async function ask<T extends { name: string; id: string }>(
  nc: NatsConnection,
  verb: DiscoveryVerb,
  schema: z.ZodType<T>,
  service: string | undefined,
  maxWaitMs: number,
): Promise<Gathered<T>> {
  const replies: T[] = [];
  let dropped = 0;
  let parseMs = 0;
  try {
    const msgs = await nc.requestMany(discoverySubject(verb, service), "", {
      strategy: "timer",
      maxWait: maxWaitMs,
    });
    for await (const msg of msgs) {
      const startedAt = performance.now();
      const parsed = parseJsonMessage(schema, msg.data);
      if (parsed.success && (service === undefined || parsed.data.name === service))
        replies.push(parsed.data);
      else dropped++;
      parseMs += performance.now() - startedAt;
    }
  } catch (error) {
    // nobody answering (or, across accounts, nothing imported under that name) is no instance
    if (!(error instanceof errors.NoRespondersError)) throw error;
  }
  return { replies, dropped, parseMs };
}
