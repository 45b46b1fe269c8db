import assert from "node:assert/strict";
import { test } from "node:test";
import { createUser } from "@nats-io/nkeys";
import { isMeshError } from "../errors.js";
import { publicKeyOfNkey } from "./nkey-public.js";
import { TenantTokenIssuer, TenantTokenVerifier } from "./tenant-token.js";

const TTL_MS = 60_000;
const gatewayKey = createUser();
const strangerKey = createUser();

function setup(startMs = 1_000_000) {
  let now = startMs;
  const clock = () => now;
  const issuer = new TenantTokenIssuer(gatewayKey.getSeed(), TTL_MS, clock);
  const verifier = new TenantTokenVerifier(new Map([[gatewayKey.getPublicKey(), "gateway"]]), clock);
  return { issuer, verifier, advance: (ms: number) => (now += ms) };
}

function assertRefused(fn: () => unknown, reason: RegExp): void {
  assert.throws(fn, (e: unknown) => isMeshError(e) && e.code === "UNAUTHENTICATED" && reason.test(e.message));
}

test("a token from a trusted issuer verifies to its tenant and issuer", () => {
  const { issuer, verifier } = setup();
  const verified = verifier.verify(issuer.tokenFor("acme"));
  assert.equal(verified.tenant, "acme");
  assert.equal(verified.issuer, "gateway");
});

test("the issuer reuses a token for half its life, then mints a new one", () => {
  const { issuer, advance } = setup();
  const first = issuer.tokenFor("acme");
  advance(TTL_MS / 2 - 1);
  assert.equal(issuer.tokenFor("acme"), first);
  advance(2);
  assert.notEqual(issuer.tokenFor("acme"), first);
});

test("a token signed by a key the policy does not name is refused", () => {
  const { verifier } = setup();
  const forger = new TenantTokenIssuer(strangerKey.getSeed(), TTL_MS, () => 1_000_000);
  assertRefused(() => verifier.verify(forger.tokenFor("acme")), /not a tenant issuer/);
});

test("a token whose claims were changed after signing is refused", () => {
  const { issuer, verifier } = setup();
  const [version, body, signature] = issuer.tokenFor("acme").split(".");
  const claims = JSON.parse(Buffer.from(body ?? "", "base64url").toString());
  const forged = Buffer.from(JSON.stringify({ ...claims, tenant: "globex" })).toString("base64url");
  assertRefused(() => verifier.verify(`${version}.${forged}.${signature}`), /signature/);
});

test("a stranger's signature over claims naming the trusted issuer is refused", () => {
  const { verifier } = setup();
  const claims = { tenant: "acme", iss: gatewayKey.getPublicKey(), iatMs: 1_000_000, expMs: 1_060_000 };
  const signed = `v1.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const sig = Buffer.from(strangerKey.sign(Buffer.from(signed))).toString("base64url");
  assertRefused(() => verifier.verify(`${signed}.${sig}`), /signature/);
});

test("an expired token is refused, even after it was verified once", () => {
  const { issuer, verifier, advance } = setup();
  const token = issuer.tokenFor("acme");
  verifier.verify(token);
  advance(TTL_MS + 31_000);
  assertRefused(() => verifier.verify(token), /expired/);
});

test("malformed tokens are refused with a reason, never a crash", () => {
  const { verifier } = setup();
  for (const token of ["", "v1", "v1.a", "v2.a.b", "v1.!!.b", "v1.a.b.c", `v1.${"A".repeat(2_000)}.b`]) {
    assertRefused(() => verifier.verify(token), /refused/);
  }
});

test("a public nkey decodes to its key; a corrupted one does not", () => {
  const pub = gatewayKey.getPublicKey();
  assert.ok(publicKeyOfNkey(pub));
  const corrupted = `${pub.slice(0, 10)}${pub[10] === "A" ? "B" : "A"}${pub.slice(11)}`;
  assert.equal(publicKeyOfNkey(corrupted), undefined);
  assert.equal(publicKeyOfNkey("not-a-key"), undefined);
});
