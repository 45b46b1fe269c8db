import { createPublicKey, type KeyObject } from "node:crypto";

// A public nkey is base32 (RFC 4648, no padding) of: one prefix byte, the 32-byte ed25519 key, and a
// CRC-16 (XMODEM, little-endian) of both. Node's crypto verifies ed25519 several times faster than
// the pure-JS nacl inside @nats-io/nkeys, and verification is what callees do.
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ED25519_KEY_BYTES = 32;

function base32Decode(text: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let index = 0;
  for (const ch of text) {
    const digit = ALPHABET.indexOf(ch);
    if (digit < 0) return undefined;
    value = (value << 5) | digit;
    bits += 5;
    if (bits >= 8) {
      out[index++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/**
 * The ed25519 key of a public nkey (`U…` user, `A…` account...), checked against its CRC; undefined
 * for anything else.
 */
export function publicKeyOfNkey(nkey: string): KeyObject | undefined {
  const raw = base32Decode(nkey);
  if (raw === undefined || raw.length !== 1 + ED25519_KEY_BYTES + 2) return undefined;
  const body = raw.subarray(0, raw.length - 2);
  const crc = (raw[raw.length - 2] ?? 0) | ((raw[raw.length - 1] ?? 0) << 8);
  if (crc16(body) !== crc) return undefined;
  const x = Buffer.from(body.subarray(1)).toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
}
