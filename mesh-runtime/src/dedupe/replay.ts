import { MeshError } from "../errors.js";
import { StoreUnavailable } from "../quota/quota-store.js";
import { toReplyError } from "../server/reply-error.js";
import { errorFromWire } from "../wire/error-reply.js";
import type { DedupeStore, StoredReply } from "./dedupe-store.js";

const MIN_CONFLICT_RETRY_AFTER_MS = 100;
const MAX_CONFLICT_RETRY_AFTER_MS = 2_000;

export interface ReplayCall {
  readonly store: DedupeStore | undefined;
  /** `dedupeKey(...)` of the logical call. */
  readonly key: string;
  readonly idempotencyKey: string;
  /** How long the reply is kept for repeats. */
  readonly ttlMs: number;
  /** How long the first attempt holds its claim: its own deadline, so a crash frees it soon. */
  readonly leaseMs: number;
  /** Hears of a repeat answered from the store (span events). */
  readonly replayed?: () => void;
}

/**
 * Idempotent replay: the first attempt of a logical call runs the handler and keeps its reply;
 * a repeat gets that reply (or CONFLICT while the first still runs). Without Redis the request is
 * refused with UNAVAILABLE rather than risk running twice.
 */
export async function replayOrRun(call: ReplayCall, run: () => Promise<Uint8Array>): Promise<Uint8Array> {
  const { store, key, ttlMs } = call;
  let begun: Awaited<ReturnType<DedupeStore["begin"]>>;
  try {
    if (store === undefined) throw new StoreUnavailable("no store is configured (redis.url or REDIS_URL)");
    begun = await store.begin(key, call.leaseMs);
  } catch (error) {
    throw new MeshError("UNAVAILABLE", "the replay store is unavailable; not running the call twice", {
      cause: error,
    });
  }
  if (begun.state === "running") {
    // come back when the first attempt is likely done, or its claim (a crashed instance's) is gone
    throw new MeshError("CONFLICT", "the first attempt of this call is still running", {
      retryAfterMs: Math.min(
        MAX_CONFLICT_RETRY_AFTER_MS,
        Math.max(MIN_CONFLICT_RETRY_AFTER_MS, begun.leaseLeftMs + 10),
      ),
      details: { idempotencyKey: call.idempotencyKey },
    });
  }
  if (begun.state === "done") {
    call.replayed?.();
    const stored = begun.reply;
    if (stored.ok) return Buffer.from(stored.body, "utf8");
    throw replayedError(stored);
  }
  let outcome: StoredReply;
  try {
    const body = await run();
    outcome = { ok: true, body: Buffer.from(body).toString("utf8") };
  } catch (thrown) {
    const error = toReplyError(thrown);
    if (error.retryable) {
      // a failure worth retrying is not the call's answer: the next attempt runs again
      await store.release(key).catch(() => undefined);
      throw error;
    }
    outcome = {
      ok: false,
      error: error.toWire(),
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    };
    await store.finish(key, outcome, ttlMs).catch(() => undefined);
    throw error;
  }
  // a lost write only means a repeat runs the handler again: the reply itself is not held back
  await store.finish(key, outcome, ttlMs).catch(() => undefined);
  return Buffer.from(outcome.body, "utf8");
}

function replayedError(stored: Extract<StoredReply, { ok: false }>): MeshError {
  // kept by this runtime's own boundary, so its status is that of a failed handler
  return errorFromWire(stored.error, { status: 500, retryAfterMs: stored.retryAfterMs });
}
