import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { createUser, fromSeed } from "@nats-io/nkeys";
import { DEFAULT_PREFIX, issueDetails, POLICY_BUCKET, Policy, summarizeIssues } from "@switchyard/schemas";
import { identities, planAccounts } from "../authz/account-plan.js";
import { renderServerConfig } from "../authz/render.js";
import { type CommandContext, flagString, requiredFlag } from "../context.js";
import { CliError, ExitCode } from "../exit-codes.js";
import { print } from "../output.js";
import { readPolicyFile } from "../policy-file.js";

/** The identity's seed in DIR/<name>.nk, made once and kept: re-rendering keeps every key. */
function seedFor(dir: string, name: string): { publicKey: string; seedFile: string; created: boolean } {
  const seedFile = join(dir, `${name}.nk`);
  if (existsSync(seedFile)) {
    const seed = readFileSync(seedFile, "utf8").trim();
    try {
      return { publicKey: fromSeed(new TextEncoder().encode(seed)).getPublicKey(), seedFile, created: false };
    } catch (error) {
      throw new CliError(
        ExitCode.Failed,
        `${seedFile} does not hold an nkey seed: ${(error as Error).message}`,
      );
    }
  }
  const pair = createUser();
  writeFileSync(seedFile, `${new TextDecoder().decode(pair.getSeed())}\n`, { mode: 0o600 });
  chmodSync(seedFile, 0o600);
  return { publicKey: pair.getPublicKey(), seedFile, created: true };
}

/** Renders the config for the policy in `file` into `out`, with a seed per identity. */
function renderInto(file: string, out: string, storeDir: string) {
  const parsed = Policy.safeParse(readPolicyFile(file));
  if (!parsed.success) {
    throw new CliError(ExitCode.Failed, `invalid policy: ${summarizeIssues(parsed.error)}`, {
      issues: issueDetails(parsed.error),
    });
  }
  mkdirSync(out, { recursive: true });
  const keys = identities(parsed.data).map((name) => ({ name, ...seedFor(out, name) }));
  const config = renderServerConfig(
    {
      accounts: planAccounts({ policy: parsed.data, prefix: DEFAULT_PREFIX, bucket: POLICY_BUCKET }),
      publicKeys: new Map(keys.map((k) => [k.name, k.publicKey])),
      storeDir,
    },
    `# Rendered by \`switchyard authz render\` from ${basename(file)}; do not edit, render again.\n` +
      "# One account per identity, named as it; its seed is <name>.nk beside this file (NATS_NKEY=<path>).\n" +
      "# docs/SECURITY.md explains every export, import and permission.",
  );
  const configFile = join(out, "nats-server.conf");
  writeFileSync(configFile, config);
  return { configFile, keys };
}

/** `authz render`: renders the policy into `--out`, then prints what it wrote. */
async function render(ctx: CommandContext): Promise<void> {
  const out = requiredFlag(ctx, "out", "--out DIR");
  const { configFile, keys } = renderInto(
    requiredFlag(ctx, "file", "-f POLICY"),
    out,
    resolve(flagString(ctx, "store-dir") ?? join(out, "jetstream")),
  );
  print(
    ctx.json,
    {
      config: configFile,
      identities: keys.map(({ name, publicKey, seedFile }) => ({ name, publicKey, seedFile })),
    },
    () =>
      [
        `wrote ${configFile} (nats-server -c ${configFile})`,
        ...keys.map(
          (k) => `  ${k.name.padEnd(20)} ${k.publicKey}  ${k.seedFile}${k.created ? " (new)" : ""}`,
        ),
      ].join("\n"),
  );
}

export const authzCommands = {
  "authz render": {
    run: render,
  },
};
