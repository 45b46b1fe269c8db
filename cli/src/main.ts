#!/usr/bin/env node
// `switchyard`: the operator's command line. Exit codes are in exit-codes.ts and docs/CLI.md.
// Only what parsing and help need is imported up front; the runtime and a command's code load when
// a command runs, so `switchyard --help` starts fast.
import { parseArgs } from "node:util";
import type { Mesh, MeshError } from "@switchyard/runtime";
import { commands, loadCommand } from "./commands/index.js";
import type { CommandContext } from "./context.js";
import { CliError, ExitCode } from "./exit-codes.js";

const GLOBAL = `Global options:
  -s, --server URL   NATS server (repeatable; default NATS_URL, else nats://127.0.0.1:4222)
      --redis URL    Redis of the quotas (default REDIS_URL, else redis://127.0.0.1:6379)
      --json         machine-readable output
  -h, --help         help for any command`;

function help(prefix: string): string {
  const matching = Object.entries(commands).filter(([name]) => name.startsWith(prefix));
  const lines = matching.map(([, c]) => `  switchyard ${c.usage}\n      ${c.summary}`);
  return `Usage:\n${lines.join("\n")}\n\n${GLOBAL}\n\nExit codes: 0 ok, 1 the mesh answered with an error, 2 usage, 3 not converged, 4 unreachable`;
}

// codes that mean the mesh (or controller) could not be reached rather than that it said no
const UNREACHABLE = new Set(["NO_RESPONDERS", "UNAVAILABLE", "RETRY_BUDGET_EXHAUSTED"]);

async function main(argv: string[]): Promise<number> {
  let mesh: Mesh | undefined;
  let json = argv.includes("--json");
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        server: { type: "string", short: "s", multiple: true },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        file: { type: "string", short: "f" },
        wait: { type: "boolean" },
        "wait-timeout": { type: "string" },
        "expected-version": { type: "string" },
        version: { type: "string" },
        limit: { type: "string" },
        author: { type: "string" },
        note: { type: "string" },
        tenant: { type: "string" },
        timeout: { type: "string" },
        redis: { type: "string" },
        interval: { type: "string" },
        count: { type: "string" },
        out: { type: "string" },
        "store-dir": { type: "string" },
        contract: { type: "string" },
        app: { type: "string" },
        name: { type: "string" },
        port: { type: "string" },
        health: { type: "string" },
      },
    });
    json = values.json ?? false;
    const two = positionals.slice(0, 2).join(" ");
    const name = commands[two]
      ? two
      : commands[positionals[0] ?? ""]
        ? (positionals[0] as string)
        : undefined;
    if (values.help || name === undefined) {
      process.stdout.write(`${help(positionals.slice(0, 2).join(" "))}\n`);
      return values.help ? ExitCode.Ok : ExitCode.Usage;
    }
    const command = await loadCommand(name);
    const servers = values.server?.flatMap((s) => s.split(","));
    const ctx: CommandContext = {
      args: positionals.slice(name.split(" ").length),
      flags: values,
      json,
      mesh: async () => {
        const { connectTool } = await import("./context.js");
        mesh ??= await connectTool(servers);
        return mesh;
      },
    };
    await command.run(ctx);
    return ExitCode.Ok;
  } catch (error) {
    // the runtime's guard, loaded only for an error that may be a MeshError (a command that failed
    // has loaded the runtime already; a usage error stays as fast as --help)
    const { isMeshError } =
      error instanceof CliError || error instanceof TypeError
        ? { isMeshError: (_: unknown): _ is MeshError => false }
        : await import("@switchyard/runtime");
    const [code, message, details] =
      error instanceof CliError
        ? [error.exitCode, error.message, error.details]
        : isMeshError(error)
          ? [
              UNREACHABLE.has(error.code) ? ExitCode.Unavailable : ExitCode.Failed,
              `${error.code}: ${error.message}`,
              error.details,
            ]
          : error instanceof TypeError &&
              /parseArgs|option|argument/i.test(String((error as { code?: string }).code ?? error.message))
            ? [ExitCode.Usage, error.message, undefined]
            : [ExitCode.Failed, String(error), undefined];
    if (json)
      process.stdout.write(`${JSON.stringify({ error: { message, exitCode: code, details } }, null, 2)}\n`);
    else
      process.stderr.write(
        `switchyard: ${message}\n${details === undefined ? "" : `${JSON.stringify(details, null, 2)}\n`}`,
      );
    return code;
  } finally {
    await mesh?.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
