import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { CliError, ExitCode } from "./exit-codes.js";

/** Reads a policy document from a YAML or JSON file (`-` for standard input). */
export function readPolicyFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (error) {
    throw new CliError(ExitCode.Usage, `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    // YAML is a superset of JSON, so one parser takes both
    return parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new CliError(ExitCode.Usage, `${path} is neither YAML nor JSON: ${(error as Error).message}`);
  }
}
