import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createUser, fromSeed } from "@nats-io/nkeys";
import { DEFAULT_PREFIX, issueDetails, POLICY_BUCKET, Policy, summarizeIssues } from "@switchyard/schemas";
import { identities, renderServerConfig } from "../authz/render.js";
import { type CommandContext, requiredFlag } from "../context.js";
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
function renderInto(file: string, out: string) {
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
      policy: parsed.data,
      publicKeys: new Map(keys.map((k) => [k.name, k.publicKey])),
      prefix: DEFAULT_PREFIX,
      bucket: POLICY_BUCKET,
    },
    `# Rendered by \`switchyard authz render\` from ${basename(file)}; do not edit, render again.\n` +
      "# Each user is one identity; its seed is <name>.nk beside this file (NATS_NKEY=<path>).",
  );
  const configFile = join(out, "nats-server.conf");
  writeFileSync(configFile, config);
  return { configFile, keys };
}

export const authzCommands = {
  "authz render": {
    usage: "authz render -f POLICY --out DIR",
    summary: "a nats-server config enforcing the policy's access rules, and an nkey seed per service",
    run: async (ctx: CommandContext) => {
      const { configFile, keys } = renderInto(
        requiredFlag(ctx, "file", "-f POLICY"),
        requiredFlag(ctx, "out", "--out DIR"),
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
    },
  },
};
