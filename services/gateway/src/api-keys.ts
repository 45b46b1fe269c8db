import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { TenantId } from "@switchyard/schemas";
import { z } from "zod";

// An API key is `sy_<id>_<secret>`: the id finds the record, the secret is checked against a
// hash. Only the hash is stored, so the keys file is not a list of secrets.
const KEY = /^sy_([A-Za-z0-9-]{1,64})_([A-Za-z0-9_-]{16,128})$/;

const KeyRecord = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
  tenant: TenantId,
  /** `sha256:<hex>` of the whole key. */
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  /** A revoked key is refused like an unknown one. */
  revoked: z.boolean().default(false),
  note: z.string().max(200).optional(),
});
export const KeysFile = z.strictObject({ keys: z.array(KeyRecord).max(100_000) });
export type KeysFile = z.input<typeof KeysFile>;
type KeyRecordOut = z.output<typeof KeyRecord>;

export function hashApiKey(key: string): string {
  return `sha256:${createHash("sha256").update(key, "utf8").digest("hex")}`;
}

/** A new key for `id`, and the record to store for it (the key itself is shown once). */
export function newApiKey(id: string, tenant: string): { key: string; record: z.input<typeof KeyRecord> } {
  const key = `sy_${id}_${randomBytes(24).toString("base64url")}`;
  return { key, record: { id, tenant, hash: hashApiKey(key) } };
}

// compared against when the id is unknown, so a miss costs what a hit does
const DECOY = Buffer.alloc(32);

/** The tenant of a valid, unrevoked key; undefined for anything else. */
export function authenticate(
  records: ReadonlyMap<string, KeyRecordOut>,
  presented: string | undefined,
): string | undefined {
  if (presented === undefined) return undefined;
  const m = KEY.exec(presented);
  if (m === null) return undefined;
  const record = records.get(m[1] as string);
  const digest = createHash("sha256").update(presented, "utf8").digest();
  const stored = record === undefined ? DECOY : Buffer.from(record.hash.slice("sha256:".length), "hex");
  const equal = timingSafeEqual(digest, stored);
  return record !== undefined && equal && !record.revoked ? record.tenant : undefined;
}

/**
 * The keys file, read again when it changes (checked at most once a second), so revoking a key
 * takes effect without a restart. An invalid file is an error at start; later, the last valid
 * contents stay and `onInvalid` hears why.
 */
export class ApiKeys {
  readonly #path: string;
  readonly #onInvalid: (error: Error) => void;
  #records = new Map<string, KeyRecordOut>();
  #mtimeMs = -1;
  #checkedAt = 0;

  constructor(path: string, onInvalid: (error: Error) => void) {
    this.#path = path;
    this.#onInvalid = onInvalid;
    this.#load(true);
  }

  tenantOf(presented: string | undefined): string | undefined {
    const now = Date.now();
    if (now - this.#checkedAt >= 1_000) {
      this.#checkedAt = now;
      this.#load(false);
    }
    return authenticate(this.#records, presented);
  }

  #load(strict: boolean): void {
    try {
      const mtimeMs = statSync(this.#path).mtimeMs;
      if (mtimeMs === this.#mtimeMs) return;
      const parsed = KeysFile.parse(JSON.parse(readFileSync(this.#path, "utf8")));
      this.#records = new Map(parsed.keys.map((r) => [r.id, r]));
      this.#mtimeMs = mtimeMs;
    } catch (error) {
      const e = new Error(`cannot read API keys from ${this.#path}: ${(error as Error).message}`, {
        cause: error,
      });
      if (strict) throw e;
      this.#onInvalid(e);
    }
  }
}
