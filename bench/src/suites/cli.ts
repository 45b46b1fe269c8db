import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { formatFixed, roundTo } from "../report.js";
import type { BenchEnv, SuiteResult } from "../suite.js";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
// the compiled CLI, exactly the files `npm pack -w @switchyard/cli` ships (the installed bin only
// adds a stat and an import in front of it)
const CLI = "cli/dist/main.js";
const RUNS = 15;

/** Wall-clock ms of one run of `node args…` to its exit. */
function timeRun(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd: REPO_ROOT, env, stdio: "ignore" });
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited with ${result.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/**
 * How fast the operator's tool starts: `switchyard --help` and `switchyard services ls` from the
 * built package (plain node, no tsx), against a bare `node -e ""` in the same interleaved runs.
 * `services ls` includes its discovery window (it listens 500 ms for every instance's reply).
 */
export async function cli(env: BenchEnv): Promise<SuiteResult> {
  env.log("cli: building the packages (tsc -b, incremental)");
  // the built package, without the repository's development condition (NODE_OPTIONS)
  const { NODE_OPTIONS: _dev, ...plain } = process.env;
  execFileSync("npx", ["tsc", "-b", "tsconfig.build.json"], { cwd: REPO_ROOT, env: plain, stdio: "ignore" });
  const withNats = { ...plain, NATS_URL: env.natsUrl };
  const node: number[] = [];
  const help: number[] = [];
  const ls: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    node.push(timeRun(["-e", ""], plain));
    help.push(timeRun([CLI, "--help"], plain));
    ls.push(timeRun([CLI, "services", "ls", "--json"], withNats));
  }
  const [nodeMs, helpMs, lsMs] = [median(node), median(help), median(ls)];
  return {
    figures: {
      "cli.help-ms": roundTo(helpMs, 1),
      "cli.services-ls-ms": roundTo(lsMs, 1),
      "cli.node-startup-ms": roundTo(nodeMs, 1),
    },
    ratios: { "cli.help-vs-bare-node": roundTo(helpMs / nodeMs, 2) },
    tables: [
      {
        title: `CLI start-up, median of ${RUNS} runs each, interleaved`,
        columns: ["command", "ms", "over bare node (ms)"],
        rows: [
          ["node -e ''", formatFixed(nodeMs), "-"],
          ["switchyard --help", formatFixed(helpMs), formatFixed(helpMs - nodeMs)],
          ["switchyard services ls", formatFixed(lsMs), formatFixed(lsMs - nodeMs)],
        ],
        notes: ["services ls listens 500 ms for discovery replies: its start-up is what exceeds that"],
      },
    ],
  };
}
