import type { CommandContext } from "../context.js";

export interface Command {
  readonly usage: string;
  readonly summary: string;
  run(ctx: CommandContext): Promise<void>;
}

/** What a command module exports per command: only its code (its words and help live here). */
export interface CommandCode {
  run(ctx: CommandContext): Promise<void>;
}

type Module = () => Promise<Readonly<Record<string, CommandCode>>>;

// Each module is imported only when one of its commands runs: `--help` loads none, and a command
// loads only what it uses (`switchyard --help` must start in well under 300 ms).
const modules: Readonly<Record<string, Module>> = {
  policy: () => import("./policy.js").then((m) => m.policyCommands),
  quota: () => import("./quota.js").then((m) => m.quotaCommands),
  services: () => import("./services.js").then((m) => m.servicesCommands),
  top: () => import("./top.js").then((m) => m.topCommands),
  call: () => import("./call.js").then((m) => m.callCommands),
  authz: () => import("./authz.js").then((m) => m.authzCommands),
  sidecar: () => import("./sidecar.js").then((m) => m.sidecarCommands),
};

interface Entry {
  readonly usage: string;
  readonly summary: string;
  /** The key of `modules` its code is in. */
  readonly module: string;
}

const table: Readonly<Record<string, Entry>> = {
  "policy apply": {
    module: "policy",
    usage: "policy apply -f FILE [--wait] [--wait-timeout MS] [--expected-version N] [--author A] [--note N]",
    summary: "validate a YAML/JSON policy and publish it as the next version",
  },
  "policy get": {
    module: "policy",
    usage: "policy get [--version N]",
    summary: "print the current policy (or a given version)",
  },
  "policy history": {
    module: "policy",
    usage: "policy history [--limit N]",
    summary: "versions, newest first",
  },
  "policy diff": {
    module: "policy",
    usage: "policy diff FROM TO",
    summary: "what changed between two versions",
  },
  "policy rollback": {
    module: "policy",
    usage: "policy rollback VERSION [--wait] [--wait-timeout MS] [--expected-version N] [--author A]",
    summary: "publish an older version's document as a new version",
  },
  "policy status": {
    module: "policy",
    usage: "policy status",
    summary: "each live instance: the version it runs, or why it rejected one",
  },
  "quota status": {
    module: "quota",
    usage: "quota status TENANT [--redis URL[,URL...]]",
    summary: "each quota rule of a tenant: remaining allowance and decisions so far",
  },
  "services ls": {
    module: "services",
    usage: "services ls [SERVICE]",
    summary: "every running instance ($SRV.PING)",
  },
  "services info": {
    module: "services",
    usage: "services info [SERVICE]",
    summary: "instances with their endpoints ($SRV.INFO)",
  },
  "services stats": {
    module: "services",
    usage: "services stats [SERVICE]",
    summary: "request and error counts, processing times ($SRV.STATS)",
  },
  top: {
    module: "top",
    usage: "top [SERVICE] [--interval MS] [--count N] [--json]",
    summary:
      "live calls/s, success, p50/p99, in-flight, sheds, quota denials, breakers, instances ejected per endpoint; calls and share per service version; per edge, callee and caller success",
  },
  call: {
    module: "call",
    usage: "call SERVICE ENDPOINT [JSON] [--tenant T] [--timeout MS]",
    summary: "call an endpoint and print its reply",
  },
  "authz render": {
    module: "authz",
    usage: "authz render -f POLICY --out DIR [--store-dir DIR]",
    summary: "a nats-server config with an account per identity enforcing the policy, and an nkey seed each",
  },
  sidecar: {
    module: "sidecar",
    usage: "sidecar [--contract FILE --app URL] [--name SERVICE] [--port N] [--health PATH]",
    summary: "put a service in any language on the mesh: a loopback HTTP API beside it (docs/SIDECAR.md)",
  },
};

/** The code of the command `words`, from its module (loaded now, once). */
export async function loadCommand(words: string): Promise<CommandCode> {
  const entry = table[words];
  const load = entry === undefined ? undefined : modules[entry.module];
  const code = load === undefined ? undefined : (await load())[words];
  // a table entry whose module lacks it is this file's bug: index.test.ts checks both directions
  if (code === undefined) throw new Error(`no code for the command "${words}"`);
  return code;
}

/** Every module's command words, for the test that keeps this table and the modules in step. */
export async function commandsInModules(): Promise<string[]> {
  const all = await Promise.all(Object.values(modules).map((load) => load()));
  return all.flatMap((m) => Object.keys(m));
}

/** Every command, by its words ("policy apply"); docs/CLI.md is tested against this table. */
export const commands: Readonly<Record<string, Command>> = Object.fromEntries(
  Object.entries(table).map(([words, { usage, summary }]) => [
    words,
    { usage, summary, run: async (ctx: CommandContext) => (await loadCommand(words)).run(ctx) },
  ]),
);
