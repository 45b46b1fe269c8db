import assert from "node:assert/strict";
import { test } from "node:test";
import { createUser } from "@nats-io/nkeys";
import { pino } from "pino";
import { isMeshError } from "../errors.js";
import { checkTenant } from "./tenant-check.js";
import { TenantSigner } from "./tenant-signer.js";
import { TenantTokenIssuer, TenantTokenVerifier } from "./tenant-token.js";

const gateway = createUser();
const verifier = new TenantTokenVerifier(new Map([[gateway.getPublicKey(), "gateway"]]));
const issuer = new TenantTokenIssuer(gateway.getSeed(), 60_000);
const acme = issuer.tokenFor("acme");

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isMeshError(e) && e.code === "UNAUTHENTICATED", String(e));
    return e.message;
  }
  assert.fail("not refused");
}

test("a valid token names the tenant, with or without a matching header", () => {
  assert.deepEqual(
    checkTenant(undefined, acme, () => verifier, true),
    { tenant: "acme", verified: true },
  );
  assert.deepEqual(
    checkTenant("acme", acme, () => verifier, false),
    { tenant: "acme", verified: true },
  );
});

test("a header naming another tenant than the token is refused, whatever the policy requires", () => {
  for (const requireVerified of [true, false]) {
    assert.match(
      refusal(() => checkTenant("globex", acme, () => verifier, requireVerified)),
      /for acme/,
    );
  }
});

test("a token that does not verify is refused even where asserted tenants are accepted", () => {
  const stranger = new TenantTokenIssuer(createUser().getSeed(), 60_000).tokenFor("acme");
  assert.match(
    refusal(() => checkTenant("acme", stranger, () => verifier, false)),
    /not a tenant issuer/,
  );
});

test("without a token the header is taken only under require: asserted", () => {
  assert.deepEqual(
    checkTenant("acme", undefined, () => verifier, false),
    { tenant: "acme", verified: false },
  );
  assert.match(
    refusal(() => checkTenant("acme", undefined, () => verifier, true)),
    /tenant token/,
  );
  // a request naming no tenant is not a tenant's request: nothing to verify
  assert.deepEqual(
    checkTenant(undefined, undefined, () => verifier, true),
    {
      tenant: undefined,
      verified: false,
    },
  );
});

test("the verifier is not even built for a request without a token", () => {
  checkTenant("acme", undefined, () => assert.fail("built"), false);
});

const silent = pino({ level: "silent" });
const naming = (key: string | undefined) => ({
  issuerKey: (id: string) => (id === "gateway" ? key : undefined),
});

test("a signer mints tokens only as the issuer the policy names, with the key it names", () => {
  const signer = new TenantSigner(
    "gateway",
    { nkeySeed: new TextDecoder().decode(gateway.getSeed()) },
    silent,
  );
  const token = signer.tokenFor(naming(gateway.getPublicKey()), "acme");
  assert.ok(token !== undefined);
  assert.equal(verifier.verify(token).tenant, "acme");
  assert.equal(signer.tokenFor(naming(undefined), "acme"), undefined, "not named: no token");
  assert.equal(signer.tokenFor(naming(createUser().getPublicKey()), "acme"), undefined, "another key");
});

test("a signer without an nkey seed mints nothing", () => {
  const signer = new TenantSigner("gateway", { user: "gateway", pass: "x" }, silent);
  assert.equal(signer.tokenFor(naming(gateway.getPublicKey()), "acme"), undefined);
  assert.equal(
    new TenantSigner("gateway", undefined, silent).tokenFor(naming(gateway.getPublicKey()), "a"),
    undefined,
  );
});
