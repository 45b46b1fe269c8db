// A public nkey is base32 (RFC 4648, no padding) of: one prefix byte, the 32-byte ed25519 key, and a
// CRC-16 (XMODEM, little-endian) of both. Checking the CRC here makes a mistyped key in a policy a
// validation error, not a verifier that silently refuses every token.
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ED25519_KEY_BYTES = 32;
/** The prefix byte of a user nkey: its base32 text starts with `U`. */
const USER_PREFIX = 20 << 3;

function base32Decode(text: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let index = 0;
  for (const ch of text) {
    const digit = ALPHABET.indexOf(ch);
    if (digit < 0) return undefined;
    value = ((value << 5) | digit) & 0xffff;
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
 * The prefix byte and raw ed25519 key of a public nkey (`U…` user, `A…` account...), checked
 * against its CRC; undefined for anything else.
 */
export function decodePublicNkey(nkey: string): { prefix: number; key: Uint8Array } | undefined {
  if (nkey.length !== 56) return undefined;
  const raw = base32Decode(nkey);
  if (raw === undefined || raw.length !== 1 + ED25519_KEY_BYTES + 2) return undefined;
  const body = raw.subarray(0, raw.length - 2);
  const crc = (raw[raw.length - 2] ?? 0) | ((raw[raw.length - 1] ?? 0) << 8);
  if (crc16(body) !== crc) return undefined;
  return { prefix: body[0] ?? 0, key: body.subarray(1) };
}

/** Whether `nkey` is a well-formed public user nkey (`U…`, 56 characters, CRC intact). */
export function isPublicUserNkey(nkey: string): boolean {
  return decodePublicNkey(nkey)?.prefix === USER_PREFIX;
}
