import { createHash } from "node:crypto";
import { nuid } from "@nats-io/nats-core";
import { MeshError } from "../errors.js";
import { StoreUnavailable } from "../quota/quota-store.js";
import { toReplyError } from "../server/reply-error.js";
import { errorFromWire } from "../wire/error-reply.js";
import type { Claim, DedupeStore, StoredReply } from "./dedupe-store.js";

const MIN_CONFLICT_RETRY_AFTER_MS = 100;
const MAX_CONFLICT_RETRY_AFTER_MS = 2_000;

export interface ReplayCall {
  readonly store: DedupeStore | undefined;
  /** `dedupeKey(...)` of the logical call. */
  readonly key: string;
  readonly idempotencyKey: string;
  /** The request body as received: a key reused with another body is CONFLICT. */
  readonly body: Uint8Array;
  /** How long the reply is kept for repeats. */
  readonly ttlMs: number;
  /**
   * How long the first attempt's claim lasts unless renewed: its own deadline, so a crash frees
   * it soon; it is renewed while the handler runs, so a slow handler is never run twice.
   */
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
    const requestHash = createHash("sha256").update(call.body).digest("base64url");
    begun = await store.begin(key, requestHash, nuid.next(), call.leaseMs);
  } catch (error) {
    throw new MeshError("UNAVAILABLE", "the replay store is unavailable; not running the call twice", {
      cause: error,
    });
  }
  if (begun.state === "mismatch") {
    throw new MeshError("CONFLICT", "this Idempotency-Key was used with another request body", {
      details: { idempotencyKey: call.idempotencyKey, reason: "body-mismatch" },
    });
  }
  if (begun.state === "running") {
    // come back when the first attempt is likely done, or its claim (a crashed instance's) is gone
    throw new MeshError("CONFLICT", "the first attempt of this call is still running", {
      retryAfterMs: Math.min(
        MAX_CONFLICT_RETRY_AFTER_MS,
        Math.max(MIN_CONFLICT_RETRY_AFTER_MS, begun.leaseLeftMs + 10),
      ),
      details: { idempotencyKey: call.idempotencyKey, reason: "running" },
    });
  }
  if (begun.state === "done") {
    call.replayed?.();
    const stored = begun.reply;
    if (stored.ok) return Buffer.from(stored.body, "utf8");
    throw replayedError(stored);
  }
  const { claim } = begun;
  let outcome: StoredReply;
  const renewal = renewWhileRunning(store, claim, call.leaseMs);
  try {
    const body = await run();
    outcome = { ok: true, body: Buffer.from(body).toString("utf8") };
  } catch (thrown) {
    const error = toReplyError(thrown);
    if (error.retryable) {
      // a failure worth retrying is not the call's answer: the next attempt runs again
      await store.release(claim).catch(() => undefined);
      throw error;
    }
    outcome = {
      ok: false,
      error: error.toWire(),
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    };
    await store.finish(claim, outcome, ttlMs).catch(() => undefined);
    throw error;
  } finally {
    clearInterval(renewal);
  }
  // a lost write only means a repeat runs the handler again: the reply itself is not held back
  await store.finish(claim, outcome, ttlMs).catch(() => undefined);
  return Buffer.from(outcome.body, "utf8");
}

/**
 * Renews the claim a few times per lease for as long as the handler runs: a handler that ignores
 * its deadline would otherwise outlive the claim, and a retry would run it a second time.
 */
function renewWhileRunning(store: DedupeStore, claim: Claim, leaseMs: number): NodeJS.Timeout {
  const timer = setInterval(
    () => void store.renew(claim, leaseMs).catch(() => undefined),
    Math.max(50, Math.floor(leaseMs / 3)),
  );
  timer.unref();
  return timer;
}

function replayedError(stored: Extract<StoredReply, { ok: false }>): MeshError {
  // kept by this runtime's own boundary, so its status is that of a failed handler
  return errorFromWire(stored.error, { status: 500, retryAfterMs: stored.retryAfterMs });
}
