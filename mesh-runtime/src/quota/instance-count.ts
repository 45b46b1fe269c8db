import type { NatsConnection } from "@nats-io/nats-core";
import { discoverySubject, parseJsonMessage } from "@switchyard/schemas";
import { z } from "zod";

const EVERY_MS = 5_000;
const GATHER_MS = 250;

/** What counting needs of a PING reply (any NATS micro service's). */
const Ping = z.object({ name: z.string(), id: z.string().min(1).max(256) });

/**
 * How many instances of a service are live, learnt from `$SRV.PING.<service>` every few seconds:
 * a `local` quota rule gives each instance rate ÷ this while Redis is down. At least 1. It counts
 * distinct instance ids of replies naming the service, so a repeated (or forged) reply does not
 * shrink every instance's share.
 */
export class InstanceCount {
  readonly #nc: NatsConnection;
  readonly #counts = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  of(service: string): number {
    return this.#counts.get(service) ?? 1;
  }

  /** Starts counting `service` (idempotent). */
  watch(service: string): void {
    if (this.#timers.has(service)) return;
    const count = async () => {
      try {
        const replies = await this.#nc.requestMany(discoverySubject("PING", service), "", {
          strategy: "timer",
          maxWait: GATHER_MS,
        });
        const ids = new Set<string>();
        for await (const reply of replies) {
          const ping = parseJsonMessage(Ping, reply.data);
          if (ping.success && ping.data.name === service) ids.add(ping.data.id);
        }
        this.#counts.set(service, Math.max(1, ids.size));
      } catch {
        // no responders or a closed connection: keep the last count
      }
    };
    void count();
    const timer = setInterval(() => void count(), EVERY_MS);
    timer.unref();
    this.#timers.set(service, timer);
  }

  stop(): void {
    for (const timer of this.#timers.values()) clearInterval(timer);
    this.#timers.clear();
  }
}
