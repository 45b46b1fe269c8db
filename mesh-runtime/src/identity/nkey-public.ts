import { createPublicKey, type KeyObject } from "node:crypto";
import { decodePublicNkey } from "@switchyard/schemas";

// Node's crypto verifies ed25519 several times faster than the pure-JS nacl inside @nats-io/nkeys,
// and verification is what callees do: the nkey is decoded once into a KeyObject.

/**
 * The ed25519 key of a public nkey (`U…` user, `A…` account...), checked against its CRC; undefined
 * for anything else.
 */
export function publicKeyOfNkey(nkey: string): KeyObject | undefined {
  const decoded = decodePublicNkey(nkey);
  if (decoded === undefined) return undefined;
  const x = Buffer.from(decoded.key).toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
}
