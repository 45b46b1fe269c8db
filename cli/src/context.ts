import { connectMesh, isMeshError, type Mesh } from "@switchyard/runtime";
import { CliError, ExitCode } from "./exit-codes.js";

/** What every command gets: parsed flags, positionals, and a mesh connection made on first use. */
export interface CommandContext {
  readonly args: readonly string[];
  readonly flags: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly json: boolean;
  mesh(): Promise<Mesh>;
}

export function flagString(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.flags[name];
  return typeof v === "string" ? v : undefined;
}

/** A flag the command cannot run without; a usage error naming `what` when it is missing. */
export function requiredFlag(ctx: CommandContext, name: string, what: string): string {
  const value = flagString(ctx, name);
  if (value === undefined) throw new CliError(ExitCode.Usage, `missing ${what}`);
  return value;
}

/** A whole-number flag; a usage error when it is not one. */
export function flagInt(ctx: CommandContext, name: string, min = 0): number | undefined {
  const text = flagString(ctx, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new CliError(ExitCode.Usage, `--${name} must be a whole number ≥ ${min}`);
  return n;
}

export function positional(ctx: CommandContext, index: number, name: string): string {
  const value = ctx.args[index];
  if (value === undefined) throw new CliError(ExitCode.Usage, `missing ${name}`);
  return value;
}

/** Connects as a tool: no policy following, no reports, quiet logs. */
export async function connectTool(servers: readonly string[] | undefined): Promise<Mesh> {
  try {
    return await connectMesh({
      name: "switchyard-cli",
      ...(servers === undefined || servers.length === 0 ? {} : { servers: [...servers] }),
      logLevel: "error",
      policy: { follow: false },
    });
  } catch (error) {
    throw new CliError(ExitCode.Unavailable, isMeshError(error) ? error.message : String(error));
  }
}
