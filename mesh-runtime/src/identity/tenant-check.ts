import { MeshError } from "../errors.js";
import type { TenantTokenVerifier } from "./tenant-token.js";

/** The tenant a request is served for, and whether a tenant issuer's token vouched for it. */
export interface CheckedTenant {
  readonly tenant: string | undefined;
  readonly verified: boolean;
}

const NO_TENANT: CheckedTenant = Object.freeze({ tenant: undefined, verified: false });

/**
 * Decides a request's tenant from its `Mesh-Tenant` header and `Mesh-Tenant-Token`. A token must
 * verify, and names the tenant even when the header is absent; a header naming another tenant than
 * the token is refused rather than believed. Without a token, the header is taken at its word only
 * when `requireVerified` is false. Throws UNAUTHENTICATED saying why.
 */
export function checkTenant(
  header: string | undefined,
  token: string | undefined,
  verifier: () => TenantTokenVerifier,
  requireVerified: boolean,
): CheckedTenant {
  if (token !== undefined) {
    const vouched = verifier().verify(token);
    if (header !== undefined && header !== vouched.tenant) {
      throw new MeshError(
        "UNAUTHENTICATED",
        `the tenant token is for ${vouched.tenant}, not for ${header} (Mesh-Tenant)`,
        { details: { tenant: header, tokenTenant: vouched.tenant } },
      );
    }
    return { tenant: vouched.tenant, verified: true };
  }
  if (header === undefined) return NO_TENANT;
  if (requireVerified) {
    throw new MeshError(
      "UNAUTHENTICATED",
      `tenant ${header} needs a tenant token from a tenant issuer (tenants.require: verified)`,
      { details: { tenant: header } },
    );
  }
  return { tenant: header, verified: false };
}
