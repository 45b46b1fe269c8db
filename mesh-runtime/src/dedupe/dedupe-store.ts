import { ANONYMOUS_TENANT, type ErrorBody } from "@switchyard/schemas";
import type { QuotaStore } from "../quota/quota-store.js";

/** What a deduplicated endpoint answered, kept for repeats of the same logical call. */
export type StoredReply =
  | { readonly ok: true; readonly body: string }
  | { readonly ok: false; readonly error: ErrorBody; readonly retryAfterMs?: number };

/** One claim on a key: the attempt that runs the handler, and the request it runs. */
export interface Claim {
  readonly key: string;
  /** The record written while the handler runs; renewing and finishing compare against it. */
  readonly record: string;
}

export type Begin =
  | { readonly state: "claimed"; readonly claim: Claim }
  /** `leaseLeftMs`: when the first attempt's claim runs out if it is never renewed. */
  | { readonly state: "running"; readonly leaseLeftMs: number }
  | { readonly state: "done"; readonly reply: StoredReply }
  /** The key is held by a request with another body: never its reply, never a second run. */
  | { readonly state: "mismatch" };

interface Running {
  readonly state: "running";
  readonly claim: string;
  /** Hash of the request body the key was first used with. */
  readonly request: string;
}
interface Done {
  readonly state: "done";
  readonly request: string;
  readonly reply: StoredReply;
}

// One script per transition, so no claim can change hands between a read and a write.
/** Claims the key, or says what holds it and for how long. */
const BEGIN = `if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return {1} end
return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}`;
/** Extends a claim that is still this attempt's. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
/** Stores the reply over this attempt's claim (or a lapsed one), never over another's. */
const FINISH = `local held = redis.call('GET', KEYS[1])
if held == ARGV[1] or not held then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0`;
/** Drops this attempt's claim, never another's. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The key of one logical call: scoped by tenant, endpoint and caller, so nobody can replay
 * another's call (with the tenant and caller the pipeline checked, not the ones a sender wrote).
 */
export function dedupeKey(
  tenant: string | undefined,
  service: string,
  endpoint: string,
  caller: string | undefined,
  idempotencyKey: string,
): string {
  return `mesh:dedupe:{${tenant ?? ANONYMOUS_TENANT}}:${service}.${endpoint}:${caller ?? "-"}:${idempotencyKey}`;
}

function parseHeld(text: string): Running | Done | undefined {
  try {
    const held = JSON.parse(text) as { state?: unknown; request?: unknown; claim?: unknown; reply?: unknown };
    if (typeof held.request !== "string") return undefined;
    if (held.state === "running" && typeof held.claim === "string") return held as Running;
    if (held.state === "done" && typeof held.reply === "object" && held.reply !== null) return held as Done;
  } catch {
    // not a record of this runtime's: treated as held by another request
  }
  return undefined;
}

/**
 * Idempotent replay in Redis: the first attempt of a logical call claims its key, later attempts
 * find it running (CONFLICT for the caller, retry later) or done (the stored reply, without
 * running the handler again). Every record carries the hash of the request body it was made
 * for, so a key reused with another body is told apart. Redis failures throw StoreUnavailable.
 */
export class DedupeStore {
  readonly #store: QuotaStore;

  constructor(store: QuotaStore) {
    this.#store = store;
  }

  /**
   * Claims the key for `leaseMs` (renewed by `renew` while the handler runs, so a crashed
   * instance's claim lapses soon but a slow handler keeps its own), or reports what holds it.
   */
  async begin(key: string, requestHash: string, claimId: string, leaseMs: number): Promise<Begin> {
    const running: Running = { state: "running", claim: claimId, request: requestHash };
    const record = JSON.stringify(running);
    const reply = (await this.#store.command((redis) => redis.eval(BEGIN, 1, key, record, leaseMs))) as [
      number,
      string?,
      number?,
    ];
    if (reply[0] === 1) return { state: "claimed", claim: { key, record } };
    const held = parseHeld(reply[1] ?? "");
    if (held === undefined || held.request !== requestHash) return { state: "mismatch" };
    if (held.state === "done") return { state: "done", reply: held.reply };
    return { state: "running", leaseLeftMs: Math.max(0, Number(reply[2] ?? 0)) };
  }

  /** Extends the claim by `leaseMs`; false when it is no longer this attempt's. */
  async renew(claim: Claim, leaseMs: number): Promise<boolean> {
    const extended = await this.#store.command((redis) =>
      redis.eval(RENEW, 1, claim.key, claim.record, leaseMs),
    );
    return extended === 1;
  }

  async finish(claim: Claim, reply: StoredReply, ttlMs: number): Promise<void> {
    const request = (JSON.parse(claim.record) as Running).request;
    const done: Done = { state: "done", request, reply };
    await this.#store.command((redis) =>
      redis.eval(FINISH, 1, claim.key, claim.record, JSON.stringify(done), ttlMs),
    );
  }

  /** Forgets the claim: the next attempt runs the handler again (after a failure worth retrying). */
  async release(claim: Claim): Promise<void> {
    await this.#store.command((redis) => redis.eval(RELEASE, 1, claim.key, claim.record));
  }
}
