import type { NatsConnection } from "@nats-io/nats-core";
import { discoverySubject } from "@switchyard/schemas";

const EVERY_MS = 5_000;
const GATHER_MS = 250;

/**
 * How many instances of a service are live, learnt from `$SRV.PING.<service>` every few seconds:
 * a `local` quota rule gives each instance rate ÷ this while Redis is down. At least 1.
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
        let n = 0;
        for await (const _ of replies) n++;
        this.#counts.set(service, Math.max(1, n));
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
