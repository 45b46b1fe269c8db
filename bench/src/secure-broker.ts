import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Cleanup } from "../../test/fixtures/processes.js";
import { scratchDir } from "../../test/fixtures/processes.js";
import { applyPolicy, startRenderedBroker } from "../../test/fixtures/rendered-broker.js";
import { echoContract } from "./echo-contract.js";

/** The identity of the bench's caller: the policy's tenant issuer on the secure broker. */
export const SECURE_CALLER = "bench-caller";
/** The tenant every secure call is made for, vouched for by the caller's signed token. */
export const SECURE_TENANT = "acme";

/** A broker that vouches identity, and what a process needs to join it as one of its identities. */
export interface SecureBroker {
  readonly url: string;
  /** The rendered seed file of an identity (`bench` serves, `bench-caller` calls). */
  seedFile(identity: string): string;
  close(): Promise<void>;
}

/**
 * A nats-server on the accounts `switchyard authz render` writes for a policy in which
 * `bench-caller` may call `bench`, with a controller and that policy applied, the caller named
 * the tenant issuer and `require: verified`: every call crosses a service import and carries a
 * signed tenant token, as on a secure deployment. The broker and its credentials come from the
 * test fixture that the identity tests use (`test/fixtures/rendered-broker.ts`).
 */
export async function startSecureBroker(): Promise<SecureBroker> {
  const cleanups: Array<() => unknown> = [];
  const scope: Cleanup = { after: (fn) => cleanups.push(fn) };
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };
  try {
    const dir = scratchDir(scope, "bench-secure");
    const policy = {
      services: { [echoContract.name]: {} },
      access: { default: "deny", rules: [{ from: SECURE_CALLER, to: echoContract.name }] },
    };
    const rendered = join(dir, "policy.json");
    writeFileSync(rendered, JSON.stringify(policy));
    const broker = await startRenderedBroker(scope, rendered);
    const applied = join(dir, "policy-verified.json");
    writeFileSync(
      applied,
      JSON.stringify({
        ...policy,
        tenants: {
          unknownTenants: { plan: "default" },
          plans: { default: {} },
          tenants: {},
          issuers: { [SECURE_CALLER]: { publicKey: broker.publicKey(SECURE_CALLER) } },
          require: "verified",
        },
      }),
    );
    await applyPolicy(scope, broker, applied);
    return { url: broker.nats.url, seedFile: broker.seedFile, close };
  } catch (error) {
    await close();
    throw error;
  }
}
