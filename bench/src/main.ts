// `npm run bench [-- --json] [--suite name] [--rounds n] [--round-ms ms] [--warmup-ms ms]`
// Runs every registered suite against one loopback NATS and reports figures and ratios:
// a table for people on stdout, or with --json exactly one JSON object. Progress goes to stderr.
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { benchNats } from "./nats-server.js";
import { renderTable, renderValues } from "./report.js";
import type { BenchEnv, Suite, SuiteResult } from "./suite.js";
import { suites } from "./suites/index.js";

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

function integer(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name} must be a whole number from ${min} to ${max}, not ${text}`);
  }
  return n;
}

function parseCommandLine() {
  const { values } = parseArgs({
    options: {
      json: { type: "boolean", default: false },
      suite: { type: "string", multiple: true },
      rounds: { type: "string", default: "3" },
      "round-ms": { type: "string", default: "1500" },
      "warmup-ms": { type: "string", default: "1000" },
    },
    strict: true,
  });
  const names = values.suite ?? suites.map((s) => s.name);
  const unknown = names.filter((n) => !suites.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new Error(`unknown suite ${unknown.join(", ")}; known: ${suites.map((s) => s.name).join(", ")}`);
  }
  return {
    json: values.json,
    selected: suites.filter((s) => names.includes(s.name)),
    rounds: integer("rounds", values.rounds, 1, 50),
    roundMs: integer("round-ms", values["round-ms"], 100, 60_000),
    warmupMs: integer("warmup-ms", values["warmup-ms"], 0, 60_000),
  };
}

/** One flat namespace across suites, so a ratio's name is all a dashboard needs. */
function merge(into: Record<string, number>, from: Readonly<Record<string, number>>, suite: string): void {
  for (const [key, value] of Object.entries(from)) {
    if (key in into) throw new Error(`suite ${suite} reports ${key}, which another suite already did`);
    into[key] = value;
  }
}

async function runSuites(
  selected: readonly Suite[],
  env: BenchEnv,
): Promise<Array<{ suite: Suite; result: SuiteResult }>> {
  const results: Array<{ suite: Suite; result: SuiteResult }> = [];
  for (const suite of selected) {
    log(`suite ${suite.name}: ${suite.description}`);
    results.push({ suite, result: await suite.run(env) });
  }
  return results;
}

async function main(): Promise<void> {
  const options = parseCommandLine();
  const nats = await benchNats();
  log(`NATS ${nats.url} (${nats.origin}), node ${process.version}, ${availableParallelism()} cores`);
  let results: Array<{ suite: Suite; result: SuiteResult }>;
  try {
    results = await runSuites(options.selected, {
      natsUrl: nats.url,
      rounds: options.rounds,
      roundMs: options.roundMs,
      warmupMs: options.warmupMs,
      log,
    });
  } finally {
    await nats.stop();
  }
  const figures: Record<string, number> = {};
  const ratios: Record<string, number> = {};
  for (const { suite, result } of results) {
    merge(figures, result.figures, suite.name);
    merge(ratios, result.ratios, suite.name);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ figures, ratios }, null, 2)}\n`);
    return;
  }
  const header = `Switchyard bench: node ${process.version}, ${availableParallelism()} cores, NATS ${nats.origin}`;
  const sections = [header, ...results.flatMap(({ result }) => result.tables.map(renderTable))];
  sections.push(renderValues("ratios (mesh ÷ peer or floor; deltas in µs)", ratios));
  process.stdout.write(`${sections.join("\n\n")}\n`);
}

// Ctrl-C: exit through the "exit" hooks, which kill the servers and responders we started
process.once("SIGINT", () => process.exit(130));

main().then(
  () => {
    // everything is closed; a handle left open would be a bug, not a reason to hang
    setTimeout(() => {
      log("handles still open after the run; exiting anyway");
      process.exit(process.exitCode ?? 0);
    }, 2_000).unref();
  },
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
