import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { controllerContract, startController } from "@switchyard/controller";
import { connectMesh, type Mesh } from "@switchyard/runtime";
import { Policy } from "@switchyard/schemas";
import { echoContract, ORDER } from "../echo-contract.js";
import { type Call, type Round, runConcurrent, type Totals, totals } from "../measure.js";
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

/**
 * An open broker started exactly as the vouching one (a config file holding only its JetStream
 * store, the same flags), so the two arms differ in the accounts alone.
 */
function openBroker(dir: string): Promise<BenchNats> {
  const config = join(dir, "open.conf");
  writeFileSync(config, `jetstream: { store_dir: ${JSON.stringify(join(dir, "open-js"))} }\n`);
  return startPrivate(["-c", config]);
}

/** A process's CPU time (user + system) in µs from /proc, or NaN where there is none. */
function processCpuUs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    // fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 Hz)
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

interface Arm {
  readonly call: Call;
  readonly broker: BenchNats;
}

interface ArmResult {
  readonly totals: Totals;
  /** The arm's nats-server CPU per call, µs (NaN without /proc). */
  readonly brokerCpuPerCallUs: number;
}

/**
 * Both arms at IN_FLIGHT, each warmed up, then in interleaved rounds so a noisy machine shifts them
 * alike; beside each round, the CPU its broker spent.
 */
async function measure(
  arms: Record<"plain" | "identity", Arm>,
  env: BenchEnv,
): Promise<Record<"plain" | "identity", ArmResult>> {
  const names = ["plain", "identity"] as const;
  for (const name of names) await runConcurrent(arms[name].call, IN_FLIGHT, env.warmupMs);
  const rounds = { plain: [] as Round[], identity: [] as Round[] };
  const brokerUs = { plain: 0, identity: 0 };
  for (let r = 0; r < env.rounds; r++) {
    for (const name of names) {
      const before = processCpuUs(arms[name].broker.pid);
      rounds[name].push(await runConcurrent(arms[name].call, IN_FLIGHT, env.roundMs));
      brokerUs[name] += processCpuUs(arms[name].broker.pid) - before;
    }
  }
  const result = (name: (typeof names)[number]): ArmResult => {
    const t = totals(rounds[name]);
    return { totals: t, brokerCpuPerCallUs: brokerUs[name] / t.calls };
  };
  return { plain: result("plain"), identity: result("identity") };
}

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
 * the policy's tenant issuer (signed tenant tokens), against the same mesh on an open broker under
 * the same access rules and tenants (callers and tenants only asserted there), in
 * interleaved rounds, each on its own nats-server started alike. Both responders run in this
 * process, so the two sides share the machine alike; the broker's CPU per call is read from /proc.
 */
export async function identity(env: BenchEnv): Promise<SuiteResult> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-identity-"));
  const meshes: Mesh[] = [];
  const closers: Array<() => Promise<void>> = [];
  try {
    const broker = await vouchingBroker(dir);
    closers.push(() => broker.nats.stop());
    const openNats = await openBroker(dir);
    closers.push(() => openNats.stop());
    const auth = (name: string) => ({ auth: { nkeyFile: broker.seed(name) } });
    /** A controller on `servers`, and `document` applied through it as the operator. */
    const applyPolicy = async (servers: string, as: (name: string) => object, document: unknown) => {
      const controller = await startController({ mesh: { servers, logLevel: "warn", ...as("controller") } });
      closers.unshift(() => controller.close());
      const operator = await connectMesh({
        name: "switchyard-cli",
        servers,
        logLevel: "warn",
        policy: { follow: false },
        ...as("switchyard-cli"),
      });
      meshes.push(operator);
      await operator.client(controllerContract).apply({ document: Policy.parse(document) });
    };
    const tenants = { unknownTenants: { plan: "default" }, plans: { default: {} }, tenants: {} };
    // the same access rules and tenants on both brokers: the arms differ in identity alone
    await applyPolicy(openNats.url, () => ({}), { ...POLICY, tenants });
    // the caller is the tenant issuer, and callees require its signed tokens
    await applyPolicy(broker.nats.url, auth, {
      ...POLICY,
      tenants: {
        ...tenants,
        issuers: { [CALLER]: { publicKey: broker.publicKey(CALLER) } },
        require: "verified",
      },
    });

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
    await serve(openNats.url, {});
    await serve(broker.nats.url, auth(echoContract.name));
    const open = await caller(openNats.url, {});
    const vouched = await caller(broker.nats.url, auth(CALLER));
    const m = await measure(
      {
        plain: { call: () => open.echo(ORDER, { tenant: TENANT }), broker: openNats },
        identity: { call: () => vouched.echo(ORDER, { tenant: TENANT }), broker: broker.nats },
      },
      env,
    );
    return report(m.identity, m.plain);
  } finally {
    for (const mesh of meshes.reverse()) await mesh.close();
    for (const close of closers) await close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const tenths = (n: number) => Math.round(n * 10) / 10;

function report(identityArm: ArmResult, plainArm: ArmResult): SuiteResult {
  const identity = identityArm.totals;
  const plain = plainArm.totals;
  const ratio = identity.callsPerSecond / plain.callsPerSecond;
  const cpu = (arm: ArmResult) => [
    `${arm.totals.cpuPerCallUs.toFixed(1)} µs`,
    Number.isNaN(arm.brokerCpuPerCallUs) ? "n/a" : `${arm.brokerCpuPerCallUs.toFixed(1)} µs`,
  ];
  const brokerFigures: Record<string, number> = Number.isNaN(
    identityArm.brokerCpuPerCallUs + plainArm.brokerCpuPerCallUs,
  )
    ? {}
    : {
        [`plain@${IN_FLIGHT}.broker-cpu-us-per-call`]: tenths(plainArm.brokerCpuPerCallUs),
        [`identity@${IN_FLIGHT}.broker-cpu-us-per-call`]: tenths(identityArm.brokerCpuPerCallUs),
      };
  return {
    figures: {
      [`plain@${IN_FLIGHT}.calls-per-s`]: Math.round(plain.callsPerSecond),
      [`identity@${IN_FLIGHT}.calls-per-s`]: Math.round(identity.callsPerSecond),
      "identity.added-us-per-call": tenths(1e6 / identity.callsPerSecond - 1e6 / plain.callsPerSecond),
      [`plain@${IN_FLIGHT}.mesh-cpu-us-per-call`]: tenths(plain.cpuPerCallUs),
      [`identity@${IN_FLIGHT}.mesh-cpu-us-per-call`]: tenths(identity.cpuPerCallUs),
      ...brokerFigures,
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
      {
        title: "CPU per call: the mesh (caller and callee, this process) and the arm's nats-server",
        columns: ["arm", "mesh", "nats-server"],
        rows: [
          ["open broker", ...cpu(plainArm)],
          ["accounts + tenant tokens", ...cpu(identityArm)],
        ],
        notes: [
          "both sides run in one process, so the 64 calls move in step: a call costs the mesh's CPU plus the broker's",
        ],
      },
    ],
  };
}
