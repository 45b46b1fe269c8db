import type { CommandContext } from "../context.js";
import { authzCommands } from "./authz.js";
import { callCommands } from "./call.js";
import { policyCommands } from "./policy.js";
import { quotaCommands } from "./quota.js";
import { servicesCommands } from "./services.js";
import { sidecarCommands } from "./sidecar.js";
import { topCommands } from "./top.js";

export interface Command {
  readonly usage: string;
  readonly summary: string;
  run(ctx: CommandContext): Promise<void>;
}

/** Every command, by its words ("policy apply"); docs/CLI.md is tested against this table. */
export const commands: Readonly<Record<string, Command>> = {
  ...policyCommands,
  ...quotaCommands,
  ...servicesCommands,
  ...topCommands,
  ...callCommands,
  ...authzCommands,
  ...sidecarCommands,
};
