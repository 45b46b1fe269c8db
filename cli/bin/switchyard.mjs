#!/usr/bin/env node
// The `switchyard` command. Installed, it runs the compiled CLI (dist/). In this repository's
// checkout, where src/ sits beside it, it runs the TypeScript through tsx instead, resolving the
// workspace packages to their sources (the "@switchyard/source" export condition), so it never
// runs a stale build.
import { existsSync } from "node:fs";

const source = new URL("../src/main.ts", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("node:module");
  register(new URL("../dev/source-condition.mjs", import.meta.url));
  const { register: registerTsx } = await import("tsx/esm/api");
  registerTsx();
  await import(source.href);
} else {
  await import("../dist/main.js");
}
