import { createHash } from "node:crypto";
import { type KV, Kvm } from "@nats-io/kv";
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
        return new PolicyStore(await new Kvm(nc).create(bucket, { history: 16, replicas }));
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
  async current(): Promise<StoredCurrent | undefined> {
    const entry = await this.#kv.get(POLICY_CURRENT_KEY);
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
    const entry = await this.#kv.get(policyVersionKey(version));
    if (entry === null || entry.operation !== "PUT") {
      throw new MeshError("NOT_FOUND", `policy version ${version} does not exist`, {
        details: { version, current: current?.version ?? 0 },
      });
    }
    return PolicySnapshot.parse(entry.json());
  }

  /** Commits the next version; CONFLICT when another apply got there first. */
  async commit(next: NewVersion): Promise<PolicySnapshot> {
    const current = await this.current();
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
    try {
      if (current === undefined) await this.#kv.create(POLICY_CURRENT_KEY, data);
      else await this.#kv.update(POLICY_CURRENT_KEY, data, current.revision);
    } catch (error) {
      if (isWrongLastSequence(error) || (current === undefined && /exists|wrong last/i.test(String(error)))) {
        throw new MeshError("CONFLICT", "another apply committed first; read the policy again and retry", {
          cause: error,
          details: { basedOnVersion: currentVersion },
        });
      }
      // JetStream without a leader (a cluster node just died) and the like: it may have landed
      throw new MeshError("UNAVAILABLE", `the policy store did not confirm the write: ${String(error)}`, {
        cause: error,
        details: { basedOnVersion: currentVersion },
      });
    }
    await this.#kv.put(policyVersionKey(snapshot.version), data);
    return snapshot;
  }

  /** Makes sure the current version also has its `versions.<n>` copy. */
  async repair(): Promise<void> {
    const current = await this.current();
    if (current?.snapshot === undefined) return;
    const key = policyVersionKey(current.version);
    if ((await this.#kv.get(key)) === null) await this.#kv.put(key, JSON.stringify(current.snapshot));
  }

  /** Stored versions, newest first. */
  async history(limit: number): Promise<PolicySnapshot[]> {
    const current = await this.current();
    const newest = current?.version ?? 0;
    const versions: PolicySnapshot[] = [];
    for (let v = newest; v >= 1 && versions.length < limit; v--) {
      const entry = await this.#kv.get(policyVersionKey(v));
      if (entry === null || entry.operation !== "PUT") continue;
      const parsed = PolicySnapshot.safeParse(parseJsonMessage(z.unknown(), entry.value).data);
      if (parsed.success) versions.push(parsed.data);
    }
    return versions;
  }
}
