import { createHash } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { MeshError } from "@switchyard/runtime";
import {
  POLICY_CURRENT_KEY,
  type Policy,
  PolicySnapshot,
  parseJsonMessage,
  policyVersionKey,
  summarizeIssues,
} from "@switchyard/schemas";
import { z } from "zod";

// JetStream's "wrong last sequence": someone else wrote the key since we read it
const WRONG_LAST_SEQUENCE = 10071;
// For about 6 s after the node leading the bucket's stream dies, reads and writes time out while
// the others elect a new leader. Each try is short and they are retried for a while, so an apply
// in that window still fits its 10 s deadline; past the wait, the error says what is going on.
const TRY_TIMEOUT_MS = 2_000;
const ELECTION_WAIT_MS = 8_000;
const RETRY_PAUSE_MS = 250;

function electing(what: string, cause: unknown): MeshError {
  return new MeshError(
    "UNAVAILABLE",
    `the policy store is electing a leader (a NATS node left?): ${what} did not complete in ${ELECTION_WAIT_MS / 1_000} s; try again in a few seconds`,
    { cause, retryAfterMs: 1_000 },
  );
}

/** The wall-clock time until which one store operation (a whole commit) retries. */
function electionDeadline(): number {
  return Date.now() + ELECTION_WAIT_MS;
}

/** True when another try, paused and timed out, would still end by `until`. */
function mayTryAgain(until: number): boolean {
  return Date.now() + RETRY_PAUSE_MS + TRY_TIMEOUT_MS <= until;
}

/** Runs `op` until it succeeds, retrying until `until`; throws `electing(what)` after. */
async function whileElecting<T>(what: string, until: number, op: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await op();
    } catch (error) {
      if (!mayTryAgain(until)) throw electing(what, error);
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }
}

export interface StoredCurrent {
  readonly version: number;
  /** Undefined when the stored document does not validate (written by hand or a newer controller). */
  readonly snapshot: PolicySnapshot | undefined;
  /** Why the stored snapshot does not validate. */
  readonly problem?: string;
  /** KV revision of `current`, for compare-and-set. */
  readonly revision: number;
}

// any number: a stored version past the safe integers must stop the next commit, not read as 0
const VersionOnly = z.object({ version: z.number().min(0) });

export interface NewVersion {
  readonly document: Policy;
  readonly author?: string | undefined;
  readonly note?: string | undefined;
  readonly rollbackOf?: number | undefined;
  /** CONFLICT unless the current version is this one. */
  readonly expectedVersion?: number | undefined;
}

/** JSON with object keys sorted, so equal documents hash equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function sha256(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}

function isWrongLastSequence(error: unknown): boolean {
  return (
    typeof error === "object" && error !== null && (error as { code?: unknown }).code === WRONG_LAST_SEQUENCE
  );
}

/**
 * The policy in JetStream KV. `current` is the commit point, written with compare-and-set on its
 * revision, so of two concurrent applies exactly one wins and the other gets CONFLICT. Each
 * version is then also kept under `versions.<n>` for `get`, `history`, `diff` and `rollback`; a
 * controller that died between the two writes repairs the copy at start (`repair()`).
 */
export class PolicyStore {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  /**
   * Opens the bucket, creating it when missing (`replicas` 3 in a cluster). A cluster that has just
   * started may not have elected its JetStream leader yet, so this retries for up to `waitMs`.
   */
  static async open(
    nc: NatsConnection,
    bucket: string,
    replicas: number,
    waitMs = 30_000,
  ): Promise<PolicyStore> {
    const until = Date.now() + waitMs;
    for (;;) {
      try {
        const js = jetstream(nc, { timeout: TRY_TIMEOUT_MS });
        return new PolicyStore(await new Kvm(js).create(bucket, { history: 16, replicas }));
      } catch (error) {
        if (Date.now() > until) {
          throw new MeshError("UNAVAILABLE", `cannot open the policy bucket ${bucket}: ${String(error)}`, {
            cause: error,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /**
   * The current snapshot. One that does not validate does not stop the controller: its version
   * still orders the next apply, which replaces it.
   */
  async current(until = electionDeadline()): Promise<StoredCurrent | undefined> {
    const entry = await this.#get(POLICY_CURRENT_KEY, until);
    if (entry === null || entry.operation !== "PUT") return undefined;
    const parsed = PolicySnapshot.safeParse(parseJsonMessage(z.unknown(), entry.value).data);
    if (parsed.success)
      return { version: parsed.data.version, snapshot: parsed.data, revision: entry.revision };
    const version = parseJsonMessage(VersionOnly, entry.value).data?.version ?? 0;
    const problem = summarizeIssues(parsed.error, Number.POSITIVE_INFINITY);
    return { version, snapshot: undefined, problem, revision: entry.revision };
  }

  /** A stored version; NOT_FOUND when there is none. */
  async version(version: number): Promise<PolicySnapshot> {
    const current = await this.current();
    if (current?.snapshot !== undefined && current.version === version) return current.snapshot;
    const entry = await this.#get(policyVersionKey(version));
    if (entry === null || entry.operation !== "PUT") {
      throw new MeshError("NOT_FOUND", `policy version ${version} does not exist`, {
        details: { version, current: current?.version ?? 0 },
      });
    }
    return PolicySnapshot.parse(entry.json());
  }

  /** Commits the next version; CONFLICT when another apply got there first. */
  async commit(next: NewVersion): Promise<PolicySnapshot> {
    const until = electionDeadline();
    const current = await this.current(until);
    const currentVersion = current?.version ?? 0;
    if (next.expectedVersion !== undefined && next.expectedVersion !== currentVersion) {
      throw new MeshError(
        "CONFLICT",
        `the current version is ${currentVersion}, not ${next.expectedVersion}`,
        {
          details: { currentVersion, expectedVersion: next.expectedVersion },
        },
      );
    }
    if (!Number.isSafeInteger(currentVersion + 1)) {
      // the next number would not be exact, and no runtime would apply it: refuse, never wrap
      throw new MeshError(
        "INTERNAL",
        `the stored policy version ${currentVersion} cannot be advanced (versions stay below ${Number.MAX_SAFE_INTEGER}): repair the ${POLICY_CURRENT_KEY} key by hand`,
        { details: { currentVersion } },
      );
    }
    const snapshot: PolicySnapshot = {
      version: currentVersion + 1,
      hash: sha256(next.document),
      createdAt: new Date().toISOString(),
      ...(next.author === undefined ? {} : { author: next.author }),
      ...(next.note === undefined ? {} : { note: next.note }),
      ...(next.rollbackOf === undefined ? {} : { rollbackOf: next.rollbackOf }),
      document: next.document,
    };
    const data = JSON.stringify(snapshot);
    await this.#write(current, data, until);
    await whileElecting("keeping the version's copy", until, () =>
      this.#kv.put(policyVersionKey(snapshot.version), data),
    );
    return snapshot;
  }

  /**
   * Writes `current` with compare-and-set, retried while the stream elects a leader. The
   * revision makes a retry safe: a try that timed out but landed makes the next one lose, and
   * then the stored value is ours.
   */
  async #write(current: StoredCurrent | undefined, data: string, until: number): Promise<void> {
    for (let retry = false; ; retry = true) {
      try {
        if (current === undefined) await this.#kv.create(POLICY_CURRENT_KEY, data);
        else await this.#kv.update(POLICY_CURRENT_KEY, data, current.revision);
        return;
      } catch (error) {
        if (
          isWrongLastSequence(error) ||
          (current === undefined && /exists|wrong last/i.test(String(error)))
        ) {
          if (retry && (await this.#get(POLICY_CURRENT_KEY, until))?.string() === data) return;
          throw new MeshError("CONFLICT", "another apply committed first; read the policy again and retry", {
            cause: error,
            details: { basedOnVersion: current?.version ?? 0 },
          });
        }
        // JetStream without a leader (a cluster node just died) and the like: it may have landed
        if (!mayTryAgain(until)) throw electing("the write (it may have landed)", error);
        await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      }
    }
  }

  #get(key: string, until = electionDeadline()): Promise<KvEntry | null> {
    return whileElecting(`reading ${key}`, until, () => this.#kv.get(key));
  }

  /** Makes sure the current version also has its `versions.<n>` copy. */
  async repair(): Promise<void> {
    const current = await this.current();
    if (current?.snapshot === undefined) return;
    const key = policyVersionKey(current.version);
    if ((await this.#get(key)) === null) await this.#kv.put(key, JSON.stringify(current.snapshot));
  }

  /** Stored versions, newest first. */
  async history(limit: number): Promise<PolicySnapshot[]> {
    const current = await this.current();
    const newest = current?.version ?? 0;
    const versions: PolicySnapshot[] = [];
    for (let v = newest; v >= 1 && versions.length < limit; v--) {
      const entry = await this.#get(policyVersionKey(v));
      if (entry === null || entry.operation !== "PUT") continue;
      const parsed = PolicySnapshot.safeParse(parseJsonMessage(z.unknown(), entry.value).data);
      if (parsed.success) versions.push(parsed.data);
    }
    return versions;
  }
}
