import { controllerContract, type InstanceStatus } from "@switchyard/controller";
import type { Mesh } from "@switchyard/runtime";
import { type CommandContext, flagInt, flagString, positional, requiredFlag } from "../context.js";
import { CliError, ExitCode } from "../exit-codes.js";
import { print, table } from "../output.js";
import { readPolicyFile } from "../policy-file.js";

const admin = async (ctx: CommandContext) => (await ctx.mesh()).client(controllerContract);

function statusTable(instances: readonly InstanceStatus[]): string {
  if (instances.length === 0) return "no live instances";
  return table(
    ["SERVICE", "INSTANCE", "VERSION", "STATE", "REPORTED", "REASON"],
    instances.map((i) => [i.service, i.instanceId, i.version, i.state, i.at, i.reason]),
  );
}

/**
 * Polls `status` until every live instance runs `version`. An instance that rejected it, or the
 * time running out, is NotConverged, naming the instances concerned.
 */
async function waitFor(mesh: Mesh, version: number, timeoutMs: number): Promise<InstanceStatus[]> {
  const client = mesh.client(controllerContract);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { instances } = await client.status({});
    // judged against the version we published, even if a newer one has landed since
    const rejected = instances.filter(
      (i) => i.version < version && i.about === version && i.state === "rejected",
    );
    if (rejected.length > 0) {
      throw new CliError(ExitCode.NotConverged, `rejected by ${rejected.length} instance(s)`, {
        instances: rejected,
      });
    }
    const laggards = instances.filter((i) => i.version < version);
    if (laggards.length === 0) return instances;
    if (Date.now() > until) {
      throw new CliError(
        ExitCode.NotConverged,
        `not applied within ${timeoutMs} ms by: ${laggards.map((l) => `${l.service}/${l.instanceId} (at v${l.version})`).join(", ")}`,
        { laggards },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** How long `--wait` waits, or undefined without it. */
function waitFlag(ctx: CommandContext): number | undefined {
  return ctx.flags["wait"] ? (flagInt(ctx, "wait-timeout", 1) ?? 10_000) : undefined;
}

/** The guard and the author a new version is published with, read as `apply` and `rollback` share them. */
function versionFlags(ctx: CommandContext): { expectedVersion?: number; author?: string } {
  const expectedVersion = flagInt(ctx, "expected-version");
  const author = flagString(ctx, "author") ?? process.env["USER"];
  return {
    ...(expectedVersion === undefined ? {} : { expectedVersion }),
    ...(author === undefined ? {} : { author }),
  };
}

async function publishAndMaybeWait(
  ctx: CommandContext,
  result: { version: number },
  verb: string,
  waitMs: number | undefined,
) {
  const instances =
    waitMs === undefined ? undefined : await waitFor(await ctx.mesh(), result.version, waitMs);
  print(ctx.json, { ...result, ...(instances ? { instances } : {}) }, () =>
    [
      `${verb} version ${result.version}`,
      ...(instances ? [`applied by all ${instances.length} live instance(s)`, statusTable(instances)] : []),
    ].join("\n"),
  );
}

// Each command reads all its flags before it sends anything, so a usage error never follows a
// committed version.
export const policyCommands = {
  "policy apply": {
    run: async (ctx: CommandContext) => {
      const file = requiredFlag(ctx, "file", "-f FILE");
      const waitMs = waitFlag(ctx);
      const version = versionFlags(ctx);
      const note = flagString(ctx, "note");
      const document = readPolicyFile(file);
      const result = await (await admin(ctx)).apply({
        document,
        ...version,
        ...(note === undefined ? {} : { note }),
      });
      await publishAndMaybeWait(ctx, result, "applied", waitMs);
    },
  },
  "policy get": {
    run: async (ctx: CommandContext) => {
      const version = flagInt(ctx, "version", 1);
      const snapshot = await (await admin(ctx)).get(version === undefined ? {} : { version });
      print(
        ctx.json,
        snapshot,
        () =>
          `# version ${snapshot.version} (${snapshot.createdAt})\n${JSON.stringify(snapshot.document, null, 2)}`,
      );
    },
  },
  "policy history": {
    run: async (ctx: CommandContext) => {
      const limit = flagInt(ctx, "limit", 1);
      const { versions } = await (await admin(ctx)).history(limit === undefined ? {} : { limit });
      print(ctx.json, versions, () =>
        table(
          ["VERSION", "CREATED", "AUTHOR", "NOTE"],
          versions.map((v) => [
            v.version,
            v.createdAt,
            v.author,
            v.rollbackOf ? `rollback to ${v.rollbackOf}` : v.note,
          ]),
        ),
      );
    },
  },
  "policy diff": {
    run: async (ctx: CommandContext) => {
      const [from, to] = [positional(ctx, 0, "FROM"), positional(ctx, 1, "TO")].map(Number);
      if (!Number.isInteger(from) || !Number.isInteger(to))
        throw new CliError(ExitCode.Usage, "FROM and TO are versions");
      const diff = await (await admin(ctx)).diff({ from: from as number, to: to as number });
      print(ctx.json, diff, () => diff.text);
    },
  },
  "policy rollback": {
    run: async (ctx: CommandContext) => {
      const toVersion = Number(positional(ctx, 0, "VERSION"));
      if (!Number.isInteger(toVersion) || toVersion < 1)
        throw new CliError(ExitCode.Usage, "VERSION is a version number");
      const waitMs = waitFlag(ctx);
      const version = versionFlags(ctx);
      const result = await (await admin(ctx)).rollback({ toVersion, ...version });
      await publishAndMaybeWait(ctx, result, `rolled back to ${toVersion} as`, waitMs);
    },
  },
  "policy status": {
    run: async (ctx: CommandContext) => {
      const status = await (await admin(ctx)).status({});
      print(ctx.json, status, () => `current version ${status.version}\n${statusTable(status.instances)}`);
    },
  },
};
