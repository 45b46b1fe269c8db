import { verify } from "node:crypto";
import { fromSeed } from "@nats-io/nkeys";
import { TenantId } from "@switchyard/schemas";
import { z } from "zod";
import { BoundedCache } from "../bounded-cache.js";
import { MeshError } from "../errors.js";
import { publicKeyOfNkey } from "./nkey-public.js";

// A tenant token: `v1.<claims>.<signature>`, both base64url; the signature is the issuer's ed25519
// nkey signature over `v1.<claims>`. The claims name the tenant, the issuer's public nkey and a
// validity window in ms since the epoch. docs/PROTOCOL.md ("Tenant tokens") is the contract.
const VERSION = "v1";
/** Clocks of issuer and callee may disagree by this much. */
const CLOCK_SKEW_MS = 30_000;
const MAX_TOKEN_CHARS = 1_024;
const MAX_CACHED_TOKENS = 10_000;

const Claims = z.strictObject({
  tenant: TenantId,
  /** The issuer's public nkey. */
  iss: z.string().min(1).max(64),
  iatMs: z.number().int().nonnegative(),
  expMs: z.number().int().nonnegative(),
});
export type TenantClaims = z.output<typeof Claims>;

/** What a callee knows after a token verified: the tenant and which issuer vouched for it. */
export interface VerifiedTenant {
  readonly tenant: string;
  /** The issuer's name in the policy. */
  readonly issuer: string;
  readonly expMs: number;
}

/**
 * Mints tokens with an issuer's nkey seed: one per tenant, reused until half its life is spent,
 * so an issuer signs once per tenant per half-TTL, not per request.
 */
export class TenantTokenIssuer {
  readonly #sign: (data: Uint8Array) => Uint8Array;
  readonly #publicKey: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #minted = new BoundedCache<string, { token: string; renewAtMs: number }>(MAX_CACHED_TOKENS);

  constructor(seed: Uint8Array, ttlMs: number, now: () => number = Date.now) {
    const pair = fromSeed(seed);
    this.#sign = (data) => pair.sign(data);
    this.#publicKey = pair.getPublicKey();
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  get publicKey(): string {
    return this.#publicKey;
  }

  tokenFor(tenant: string): string {
    const now = this.#now();
    const held = this.#minted.get(tenant);
    if (held !== undefined && now < held.renewAtMs) return held.token;
    const claims: TenantClaims = { tenant, iss: this.#publicKey, iatMs: now, expMs: now + this.#ttlMs };
    const signed = `${VERSION}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
    const token = `${signed}.${Buffer.from(this.#sign(Buffer.from(signed))).toString("base64url")}`;
    this.#minted.set(tenant, { token, renewAtMs: now + this.#ttlMs / 2 });
    return token;
  }
}

const refused = (why: string) => new MeshError("UNAUTHENTICATED", `tenant token refused: ${why}`);

/**
 * Checks tenant tokens against the issuers the policy trusts (public nkey → issuer name). A token
 * that verified is remembered until it expires, so the ed25519 check is paid once per token.
 */
export class TenantTokenVerifier {
  readonly #issuers: ReadonlyMap<string, string>;
  readonly #now: () => number;
  readonly #verified = new BoundedCache<string, VerifiedTenant>(MAX_CACHED_TOKENS);

  constructor(issuers: ReadonlyMap<string, string>, now: () => number = Date.now) {
    this.#issuers = issuers;
    this.#now = now;
  }

  /** The verified tenant; throws UNAUTHENTICATED saying why the token is refused. */
  verify(token: string): VerifiedTenant {
    const now = this.#now();
    let verified = this.#verified.get(token);
    if (verified === undefined) {
      verified = this.#check(token, now);
      this.#verified.set(token, verified);
    }
    if (now > verified.expMs + CLOCK_SKEW_MS) {
      this.#verified.delete(token);
      throw refused(`it expired at ${new Date(verified.expMs).toISOString()}`);
    }
    return verified;
  }

  #check(token: string, now: number): VerifiedTenant {
    if (token.length > MAX_TOKEN_CHARS) throw refused("it is too long");
    const [version, body, signature, extra] = token.split(".");
    if (version !== VERSION || body === undefined || signature === undefined || extra !== undefined) {
      throw refused(`not a ${VERSION} token`);
    }
    let claims: TenantClaims;
    try {
      claims = Claims.parse(JSON.parse(Buffer.from(body, "base64url").toString("utf8")));
    } catch {
      throw refused("its claims are malformed");
    }
    const issuer = this.#issuers.get(claims.iss);
    if (issuer === undefined) throw refused(`issuer ${claims.iss} is not a tenant issuer in the policy`);
    const key = publicKeyOfNkey(claims.iss);
    const signed = Buffer.from(`${version}.${body}`);
    if (key === undefined || !verify(null, signed, key, Buffer.from(signature, "base64url"))) {
      throw refused("its signature does not verify");
    }
    if (claims.iatMs > now + CLOCK_SKEW_MS) throw refused("it is issued in the future");
    if (claims.expMs <= claims.iatMs) throw refused("its validity window is empty");
    return { tenant: claims.tenant, issuer, expMs: claims.expMs };
  }
}
