import type { Logger } from "pino";
import { readSeed } from "../connection.js";
import type { AuthOptions } from "../options.js";
import { TenantTokenIssuer } from "./tenant-token.js";

/** How long a minted tenant token is valid; the issuer renews it after half of that. */
export const TENANT_TOKEN_TTL_MS = 300_000;

/** What the signer needs of a policy version: which key, if any, it names for this identity. */
export interface IssuerPolicy {
  issuerKey(identity: string): string | undefined;
}

/**
 * Originates tenants for an identity the policy names as a tenant issuer. It signs with the nkey
 * seed the mesh connects with, and only when that seed's public key is the one the policy names:
 * an issuer the callees would not trust sends no token at all. Resolved once per policy version,
 * so a rotated seed file is picked up with the policy that names its new key.
 */
export class TenantSigner {
  readonly #identity: string;
  readonly #auth: AuthOptions | undefined;
  readonly #log: Logger;
  #resolvedFor: IssuerPolicy | undefined;
  #issuer: TenantTokenIssuer | undefined;

  constructor(identity: string, auth: AuthOptions | undefined, log: Logger) {
    this.#identity = identity;
    this.#auth = auth;
    this.#log = log;
  }

  /** A token for `tenant`, or undefined when this identity is not an issuer under `policy`. */
  tokenFor(policy: IssuerPolicy, tenant: string): string | undefined {
    if (policy !== this.#resolvedFor) {
      this.#resolvedFor = policy;
      this.#issuer = this.#resolve(policy);
    }
    return this.#issuer?.tokenFor(tenant);
  }

  #resolve(policy: IssuerPolicy): TenantTokenIssuer | undefined {
    const named = policy.issuerKey(this.#identity);
    if (named === undefined) return undefined;
    let issuer: TenantTokenIssuer;
    try {
      const seed = this.#seed();
      if (seed === undefined) {
        this.#log.warn(
          "the policy names this identity a tenant issuer, but it connects without an nkey seed",
        );
        return undefined;
      }
      issuer = new TenantTokenIssuer(seed, TENANT_TOKEN_TTL_MS);
    } catch (error) {
      this.#log.error({ err: error }, "cannot read the nkey seed to sign tenant tokens with");
      return undefined;
    }
    if (issuer.publicKey !== named) {
      this.#log.warn(
        { policyKey: named, seedKey: issuer.publicKey },
        "the policy names another key for this tenant issuer: not signing tenant tokens",
      );
      return undefined;
    }
    return issuer;
  }

  #seed(): Uint8Array | undefined {
    const auth = this.#auth;
    if (auth === undefined) return undefined;
    if ("nkeySeed" in auth) return new TextEncoder().encode(auth.nkeySeed.trim());
    if ("nkeyFile" in auth) return readSeed(auth.nkeyFile);
    return undefined;
  }
}
