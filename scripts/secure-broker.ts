// `npm start -- --secure`: a nats-server of its own that vouches every identity, on the
// configuration `switchyard authz render` writes for the example policy.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { freePort, isListening, onPath } from "./loopback.js";

/** What `switchyard authz render --json` prints. */
const Rendered = z.object({
  config: z.string(),
  identities: z.array(z.object({ name: z.string(), publicKey: z.string(), seedFile: z.string() })),
});

export interface SecureBroker {
  readonly url: string;
  /** Where the configuration, every identity's seed and the JetStream store are. */
  readonly folder: string;
  readonly process: ChildProcess;
  /** The seed file `name` connects with (NATS_NKEY). */
  seedFile(name: string): string;
  /** The public nkey of `name`. */
  publicKey(name: string): string;
}

/**
 * Renders the broker configuration and a seed per identity of `policyFile` into a new folder
 * (through the CLI, so what runs is what an operator would run), then starts nats-server on it
 * on a free loopback port with JetStream stored in the folder. The folder goes when the server
 * exits: the credentials are this run's only.
 */
export async function startSecureBroker(policyFile: string): Promise<SecureBroker> {
  const binary = onPath("nats-server");
  if (binary === undefined)
    throw new Error("--secure starts its own nats-server: install it (Debian: apt-get install nats-server)");
  const folder = mkdtempSync(join(tmpdir(), "switchyard-secure-"));
  const output = execFileSync(
    process.execPath,
    [
      "cli/bin/switchyard.mjs",
      "authz",
      "render",
      "-f",
      policyFile,
      "--out",
      folder,
      "--store-dir",
      join(folder, "jetstream"),
      "--json",
    ],
    { encoding: "utf8" },
  );
  const rendered = Rendered.parse(JSON.parse(output));
  mkdirSync(join(folder, "jetstream"));
  const port = await freePort();
  // the flags win over the file: loopback and our port (the file holds JetStream's store dir, and
  // nats-server refuses -js/-sd beside a configured store_dir)
  const args = ["-c", rendered.config, "-a", "127.0.0.1", "-p", String(port)];
  const child = spawn(binary, args, { stdio: "ignore" });
  child.once("exit", () => rmSync(folder, { recursive: true, force: true }));
  for (let i = 0; i < 100 && !(await isListening(port)); i++) await new Promise((r) => setTimeout(r, 50));
  if (child.exitCode !== null)
    throw new Error(`nats-server refused ${rendered.config} (exit ${child.exitCode})`);
  const identity = (name: string) => {
    const found = rendered.identities.find((i) => i.name === name);
    if (found === undefined) throw new Error(`${policyFile} names no identity ${name}`);
    return found;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    folder,
    process: child,
    seedFile: (name) => identity(name).seedFile,
    publicKey: (name) => identity(name).publicKey,
  };
}
