import { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";
import { GCRA_SCRIPT } from "./gcra-script.js";

export interface QuotaStoreOptions {
  /** `redis://host:port` of a single server, or the startup nodes of a Redis Cluster. */
  readonly url?: string | undefined;
  readonly clusterNodes?: readonly string[] | undefined;
  /** A command slower than this counts as a failure: a Redis outage must never stall calls. */
  readonly commandTimeoutMs: number;
  /** After this many failures in a row, Redis is skipped for `cooldownMs`. */
  readonly failureThreshold: number;
  readonly cooldownMs: number;
}

/** One rule's part of a decision, as the script takes it. */
export interface RuleRequest {
  readonly key: string;
  readonly want: number;
  readonly min: number;
  readonly intervalUs: number;
  readonly depth: number;
  readonly shadow: boolean;
}

export interface RuleOutcome {
  readonly granted: number;
  readonly retryAfterUs: number;
  readonly remaining: number;
}

/** Redis said nothing usable: the rules' store-failure modes decide. */
export class StoreUnavailable extends Error {
  override readonly name = "StoreUnavailable";
}

export type Client = (Redis | Cluster) & {
  meshQuota(numberOfKeys: number, ...args: Array<string | number>): Promise<number[]>;
};

function urlToNode(url: string): { host: string; port: number } {
  const u = new URL(url.includes("://") ? url : `redis://${url}`);
  return { host: u.hostname, port: Number(u.port || 6379) };
}

/**
 * The quota store: ioredis with no offline queue and short command timeouts, the GCRA script
 * defined once (EVALSHA, falling back to EVAL, so NOSCRIPT after a Redis restart heals itself),
 * and a breaker: after repeated failures Redis is not asked at all for a while, so a dead Redis
 * costs a request nothing. Reconnection is ioredis's, forever.
 */
export class QuotaStore {
  readonly #client: Client;
  readonly #options: QuotaStoreOptions;
  readonly #log: Logger;
  readonly #ready: Promise<void>;
  #everReady = false;
  #failures = 0;
  #openUntil = 0;

  constructor(options: QuotaStoreOptions, log: Logger) {
    this.#options = options;
    this.#log = log;
    const common = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: 1_000,
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 1_000),
      lazyConnect: false,
    };
    const client =
      options.clusterNodes !== undefined && options.clusterNodes.length > 0
        ? new Cluster(options.clusterNodes.map(urlToNode), {
            enableOfflineQueue: false,
            redisOptions: common,
            clusterRetryStrategy: (attempt: number) => Math.min(100 * attempt, 1_000),
          })
        : new Redis(options.url ?? "redis://127.0.0.1:6379", common);
    client.defineCommand("meshQuota", { lua: GCRA_SCRIPT });
    // errors surface per command; the connection's own errors would only repeat them
    client.on("error", (error: Error) => this.#log.debug({ err: error }, "redis connection error"));
    this.#ready = new Promise((resolve) => {
      client.once("ready", () => {
        this.#everReady = true;
        resolve();
      });
    });
    this.#client = client as Client;
  }

  /**
   * Runs Redis commands behind the store's breaker; any failure (timeout, no connection) is a
   * StoreUnavailable, so callers apply their declared failure behaviour.
   */
  async command<T>(run: (client: Client) => Promise<T>): Promise<T> {
    if (Date.now() < this.#openUntil) throw new StoreUnavailable("redis skipped after repeated failures");
    if (!this.#everReady) {
      // the first connection may still be under way: wait for it as long as for a command
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#ready,
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.#options.commandTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    try {
      const result = await run(this.#client);
      this.#failures = 0;
      return result;
    } catch (error) {
      this.#failed(error);
      throw new StoreUnavailable(`redis: ${(error as Error).message}`, { cause: error });
    }
  }

  /** One atomic decision over `rules`; throws StoreUnavailable when Redis cannot answer. */
  async decide(rules: readonly RuleRequest[]): Promise<{ ok: boolean; outcomes: RuleOutcome[] }> {
    const args: Array<string | number> = rules.map((r) => r.key);
    for (const r of rules) args.push(r.want, r.min, r.intervalUs, r.depth, r.shadow ? 1 : 0);
    const reply = await this.command((client) => client.meshQuota(rules.length, ...args));
    const outcomes: RuleOutcome[] = [];
    for (let i = 0; i < rules.length; i++) {
      outcomes.push({
        granted: Number(reply[1 + i * 3]),
        retryAfterUs: Number(reply[2 + i * 3]),
        remaining: Number(reply[3 + i * 3]),
      });
    }
    return { ok: reply[0] === 1, outcomes };
  }

  #failed(error: unknown): void {
    this.#failures++;
    if (this.#failures >= this.#options.failureThreshold) {
      this.#openUntil = Date.now() + this.#options.cooldownMs;
      this.#failures = 0;
      this.#log.warn(
        { err: error, cooldownMs: this.#options.cooldownMs },
        "quota store failing: skipping redis for a while",
      );
    }
  }

  async close(): Promise<void> {
    this.#client.disconnect();
  }
}
