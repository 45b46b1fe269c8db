import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { controllerContract, startController } from "@switchyard/controller";
import { connectMesh, type Mesh } from "@switchyard/runtime";
import { Policy } from "@switchyard/schemas";
import { echoContract, ORDER } from "../echo-contract.js";
import { interleaved, type Totals } from "../measure.js";
import { type BenchNats, startPrivate } from "../nats-server.js";
import { formatCount } from "../report.js";
import type { BenchEnv, SuiteResult } from "../suite.js";

const IN_FLIGHT = 64;
const CALLER = "bench-caller";
const TENANT = "acme";
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const POLICY = {
  services: { [echoContract.name]: {} },
  access: { default: "deny", rules: [{ from: CALLER, to: echoContract.name }] },
};

/** The credentials `switchyard authz render` writes for POLICY, and a server running on them. */
async function vouchingBroker(
  dir: string,
): Promise<{ nats: BenchNats; seed: (name: string) => string; publicKey: (name: string) => string }> {
  const policyFile = join(dir, "policy.json");
  writeFileSync(policyFile, JSON.stringify(POLICY));
  const out = execFileSync(
    process.execPath,
    ["cli/bin/switchyard.mjs", "authz", "render", "-f", policyFile, "--out", dir, "--json"],
    { cwd: REPO_ROOT, encoding: "utf8" },
  );
  const rendered = JSON.parse(out) as {
    config: string;
    identities: Array<{ name: string; publicKey: string }>;
  };
  const nats = await startPrivate(["-c", rendered.config]);
  return {
    nats,
    seed: (name) => join(dir, `${name}.nk`),
    publicKey: (name) => rendered.identities.find((i) => i.name === name)?.publicKey ?? "",
  };
}

/**
 * What identity the broker vouches for costs: the same call (64 in flight, a tenant on every
 * call) on a broker with the accounts `authz render` writes, a verified caller and the caller as
 * the policy's tenant issuer (signed tenant tokens), against the same mesh on an open broker, in
 * interleaved rounds. Both responders run in this process, so the two sides share the machine alike.
 */
export async function identity(env: BenchEnv): Promise<SuiteResult> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-identity-"));
  const meshes: Mesh[] = [];
  const closers: Array<() => Promise<void>> = [];
  try {
    const broker = await vouchingBroker(dir);
    closers.push(() => broker.nats.stop());
    const auth = (name: string) => ({ auth: { nkeyFile: broker.seed(name) } });
    const controller = await startController({
      mesh: { servers: broker.nats.url, logLevel: "warn", ...auth("controller") },
    });
    closers.unshift(() => controller.close());
    const operator = await connectMesh({
      name: "switchyard-cli",
      servers: broker.nats.url,
      logLevel: "warn",
      policy: { follow: false },
      ...auth("switchyard-cli"),
    });
    meshes.push(operator);
    // the caller is the tenant issuer, and callees require its signed tokens
    const verified = Policy.parse({
      ...POLICY,
      tenants: {
        unknownTenants: { plan: "default" },
        plans: { default: {} },
        tenants: {},
        issuers: { [CALLER]: { publicKey: broker.publicKey(CALLER) } },
        require: "verified",
      },
    });
    await operator.client(controllerContract).apply({ document: verified });

    const serve = async (servers: string, extra: object) => {
      const mesh = await connectMesh({ name: echoContract.name, servers, logLevel: "warn", ...extra });
      meshes.push(mesh);
      await mesh.serve(echoContract, { echo: (order) => order });
    };
    const caller = async (servers: string, extra: object) => {
      const mesh = await connectMesh({ name: CALLER, servers, logLevel: "warn", ...extra });
      meshes.push(mesh);
      return mesh.client(echoContract);
    };
    await serve(env.natsUrl, {});
    await serve(broker.nats.url, auth(echoContract.name));
    const open = await caller(env.natsUrl, {});
    const vouched = await caller(broker.nats.url, auth(CALLER));
    const m = await interleaved(
      {
        plain: () => open.echo(ORDER, { tenant: TENANT }),
        identity: () => vouched.echo(ORDER, { tenant: TENANT }),
      },
      IN_FLIGHT,
      env,
    );
    return report(m.identity, m.plain);
  } finally {
    for (const mesh of meshes.reverse()) await mesh.close();
    for (const close of closers) await close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(identity: Totals, plain: Totals): SuiteResult {
  const ratio = identity.callsPerSecond / plain.callsPerSecond;
  return {
    figures: {
      [`plain@${IN_FLIGHT}.calls-per-s`]: Math.round(plain.callsPerSecond),
      [`identity@${IN_FLIGHT}.calls-per-s`]: Math.round(identity.callsPerSecond),
      "identity.added-us-per-call":
        Math.round((1e6 / identity.callsPerSecond - 1e6 / plain.callsPerSecond) * 10) / 10,
    },
    ratios: { [`identity/plain@${IN_FLIGHT}`]: Math.round(ratio * 1000) / 1000 },
    tables: [
      {
        title: `identity the broker vouches for: calls/s at ${IN_FLIGHT} in flight`,
        columns: ["open broker", "accounts + tenant tokens", "ratio"],
        rows: [[formatCount(plain.callsPerSecond), formatCount(identity.callsPerSecond), ratio.toFixed(3)]],
        notes: [
          "target: identity/plain ≥ 0.85×",
          "the caller is the policy's tenant issuer: every call carries a signed tenant token (require: verified)",
        ],
      },
    ],
  };
}
