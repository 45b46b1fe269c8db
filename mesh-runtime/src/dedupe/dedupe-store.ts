import { ANONYMOUS_TENANT, type ErrorBody } from "@switchyard/schemas";
import type { QuotaStore } from "../quota/quota-store.js";

/** What a deduplicated endpoint answered, kept for repeats of the same logical call. */
export type StoredReply =
  | { readonly ok: true; readonly body: string }
  | { readonly ok: false; readonly error: ErrorBody; readonly retryAfterMs?: number };

export type Begin =
  | { readonly state: "claimed" }
  /** `leaseLeftMs`: when the first attempt's claim runs out if it never finishes. */
  | { readonly state: "running"; readonly leaseLeftMs: number }
  | { readonly state: "done"; readonly reply: StoredReply };

const RUNNING = '{"state":"running"}';

/** The key of one logical call: scoped by tenant and caller, so nobody can replay another's. */
export function dedupeKey(
  tenant: string | undefined,
  service: string,
  endpoint: string,
  caller: string | undefined,
  idempotencyKey: string,
): string {
  return `mesh:dedupe:{${tenant ?? ANONYMOUS_TENANT}}:${service}.${endpoint}:${caller ?? "-"}:${idempotencyKey}`;
}

/**
 * Idempotent replay in Redis: the first attempt of a logical call claims its key (SET NX), later
 * attempts find it running (CONFLICT for the caller, retry later) or done (the stored reply,
 * without running the handler again). Redis failures throw StoreUnavailable.
 */
export class DedupeStore {
  readonly #store: QuotaStore;

  constructor(store: QuotaStore) {
    this.#store = store;
  }

  /**
   * Claims the key for `leaseMs` (the request's own deadline: a first attempt that dies does not
   * block its retries for long), or reports what holds it.
   */
  async begin(key: string, leaseMs: number): Promise<Begin> {
    return this.#store.command(async (redis) => {
      // twice at most: a claim that expires between SET NX and GET is claimed again, properly
      for (let round = 0; round < 2; round++) {
        if ((await redis.set(key, RUNNING, "PX", leaseMs, "NX")) === "OK") return { state: "claimed" };
        const held = await redis.get(key);
        if (held === RUNNING) return { state: "running", leaseLeftMs: Math.max(0, await redis.pttl(key)) };
        if (held !== null) return { state: "done", reply: JSON.parse(held) as StoredReply };
      }
      return { state: "running", leaseLeftMs: 0 };
    });
  }

  async finish(key: string, reply: StoredReply, ttlMs: number): Promise<void> {
    await this.#store.command((redis) => redis.set(key, JSON.stringify(reply), "PX", ttlMs));
  }

  /** Forgets the key: the next attempt runs the handler again (after a failure worth retrying). */
  async release(key: string): Promise<void> {
    await this.#store.command((redis) => redis.del(key));
  }
}
