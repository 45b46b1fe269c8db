import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LENGTH = 12;

/**
 * A random id of 12 letters and digits (~71 bits; a byte modulo 62 leans slightly to the first
 * eight characters, which costs ~0.1 bit each). Half a NUID's 22: an instance id and the reply
 * inbox's token ride in the subjects of every balanced request and every reply, which nats.js
 * writes, the broker routes and the other side parses each time. Letters and digits only, so it
 * is a subject token anywhere and never read as a flag on a command line.
 */
export function shortId(): string {
  const bytes = randomBytes(LENGTH);
  let id = "";
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return id;
}
