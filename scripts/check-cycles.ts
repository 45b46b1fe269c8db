// Fails when any module of the repository imports itself through a chain of imports, type-only
// imports included (`npm test` runs it; `madge --circular` cannot read TypeScript 7 projects).
// Workspace packages are followed through their package.json `exports` into their sources.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { workspaces: string[] };

/** Workspace folders, with `services/*` expanded. */
function workspaces(): string[] {
  return rootManifest.workspaces.flatMap((w) =>
    w.endsWith("/*")
      ? readdirSync(join(root, w.slice(0, -2))).map((d) => join(root, w.slice(0, -2), d))
      : [join(root, w)],
  );
}

/** `@switchyard/x` and `@switchyard/x/sub` → the source file its `exports` names. */
const packageEntries = new Map<string, string>();
for (const dir of workspaces()) {
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    name: string;
    exports?: Record<string, string | Record<string, string>>;
  };
  for (const [sub, target] of Object.entries(manifest.exports ?? {})) {
    // a conditional export: the sources stand beside the `types`/`default` build outputs
    const file = typeof target === "string" ? target : (target["source"] ?? target["default"]);
    if (file?.endsWith(".ts") === true) packageEntries.set(join(manifest.name, sub), join(dir, file));
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g;

function resolveSpecifier(from: string, specifier: string): string | undefined {
  if (specifier.startsWith(".")) {
    const path = resolve(dirname(from), specifier);
    for (const candidate of [path.replace(/\.js$/, ".ts"), path.replace(/\.js$/, ".tsx"), path]) {
      try {
        if (statSync(candidate).isFile()) return candidate;
      } catch {}
    }
    return undefined;
  }
  return packageEntries.get(specifier);
}

const graph = new Map<string, string[]>();
for (const dir of workspaces().concat(join(root, "scripts"))) {
  for (const file of sourceFiles(dir)) {
    const text = readFileSync(file, "utf8");
    const deps = [...text.matchAll(SPECIFIER)]
      .map((m) => resolveSpecifier(file, m[1] ?? ""))
      .filter((d): d is string => d !== undefined);
    graph.set(file, deps);
  }
}

// depth-first search with colours: a grey node met again closes a cycle
const GREY = 1;
const BLACK = 2;
const colour = new Map<string, number>();
const cycles: string[][] = [];
const stack: string[] = [];
function visit(node: string): void {
  colour.set(node, GREY);
  stack.push(node);
  for (const dep of graph.get(node) ?? []) {
    const c = colour.get(dep);
    if (c === GREY) cycles.push(stack.slice(stack.indexOf(dep)).concat(dep));
    else if (c === undefined) visit(dep);
  }
  stack.pop();
  colour.set(node, BLACK);
}
for (const node of graph.keys()) if (!colour.has(node)) visit(node);

if (cycles.length > 0) {
  for (const cycle of cycles)
    console.error(`import cycle: ${cycle.map((f) => relative(root, f)).join(" → ")}`);
  process.exit(1);
}
console.log(`no import cycles in ${graph.size} modules`);
