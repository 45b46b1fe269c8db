// Issue 3: the policy reference and examples stay valid.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { CallSettings, Policy } from "@switchyard/schemas";
import { parse } from "yaml";
import { commands } from "../cli/src/commands/index.js";
import { ExitCode } from "../cli/src/exit-codes.js";

function read(path: string): string {
  return readFileSync(new URL(`../${path}`, import.meta.url), "utf8");
}

/** The bodies of a document's fenced code blocks in `language`. */
function fenced(markdown: string, language: string): string[] {
  const blocks: string[] = [];
  let body: string[] | undefined;
  for (const line of markdown.split("\n")) {
    if (body === undefined) {
      if (line.trim() === `\`\`\`${language}`) body = [];
    } else if (line.trim() === "```") {
      blocks.push(body.join("\n"));
      body = undefined;
    } else {
      body.push(line);
    }
  }
  assert.equal(body, undefined, `an unclosed \`\`\`${language} block`);
  return blocks;
}

/** Markdown without its fenced code blocks: what a reader sees as prose, headings and tables. */
function prose(markdown: string): string {
  let inFence = false;
  return markdown
    .split("\n")
    .filter((line) => {
      if (line.trimStart().startsWith("```")) inFence = !inFence;
      return !inFence && !line.trimStart().startsWith("```");
    })
    .join("\n");
}

/** Cells of the markdown table rows of a document, trimmed, with surrounding backticks removed. */
function tableRows(markdown: string): string[][] {
  return prose(markdown)
    .split("\n")
    .filter((line) => line.trimStart().startsWith("|"))
    .map((line) =>
      line
        .trim()
        .replace(/^\|/, "")
        .replace(/\|$/, "")
        .split(/(?<!\\)\|/)
        .map((c) => c.trim().replace(/^`(.*)`$/, "$1")),
    );
}

/** Every property name that a JSON Schema declares anywhere in it. */
function propertyNames(schema: unknown, out = new Set<string>()): Set<string> {
  if (typeof schema !== "object" || schema === null) return out;
  for (const [key, value] of Object.entries(schema)) {
    if (key === "properties" && typeof value === "object" && value !== null) {
      for (const name of Object.keys(value)) out.add(name);
    }
    propertyNames(value, out);
  }
  return out;
}

/** Every key used anywhere in a parsed document. */
function keysUsed(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value !== "object" || value === null) return out;
  for (const [key, inner] of Object.entries(value)) {
    if (!Array.isArray(value)) out.add(key);
    keysUsed(inner, out);
  }
  return out;
}

function assertValidPolicy(text: string, where: string): void {
  const document: unknown = parse(text);
  const result = Policy.safeParse(document);
  assert.ok(
    result.success,
    `${where} is not a valid policy:\n${result.error?.issues
      .map((i) => `  ${i.path.join(".") || "(document)"}: ${i.message}`)
      .join("\n")}`,
  );
}

describe("policy reference and examples", () => {
  const policyDoc = read("docs/POLICY.md");

  it("examples/policy.yaml is a valid policy", () => {
    assertValidPolicy(read("examples/policy.yaml"), "examples/policy.yaml");
  });

  it("every ```yaml block of docs/POLICY.md is a valid policy", () => {
    const blocks = fenced(policyDoc, "yaml");
    assert.ok(blocks.length > 0, "docs/POLICY.md has no ```yaml block");
    blocks.forEach((block, i) => {
      assertValidPolicy(block, `docs/POLICY.md, yaml block ${i + 1}`);
    });
  });

  it("docs/POLICY.md's full example uses every top-level key", () => {
    const blocks = fenced(policyDoc, "yaml").map((b) => parse(b) as Record<string, unknown>);
    const full = blocks.find((b) => Object.keys(Policy.shape).every((k) => Object.hasOwn(b, k)));
    assert.ok(full, `no yaml block of docs/POLICY.md has all of ${Object.keys(Policy.shape).join(", ")}`);
  });

  it("docs/POLICY.md's full example uses every field the schema has, as it says", () => {
    const schema: unknown = JSON.parse(read("schemas/json/policy.schema.json"));
    const used = new Set<string>();
    for (const block of fenced(policyDoc, "yaml")) keysUsed(parse(block), used);
    const unused = [...propertyNames(schema)].filter((name) => !used.has(name));
    assert.deepEqual(unused, [], "fields no yaml block of docs/POLICY.md uses");
  });

  it("docs/POLICY.md documents every top-level key as a heading or a table entry", () => {
    // the declared keys, and the keys parse() fills in: one list even if a key moves between them
    const keys = new Set([...Object.keys(Policy.shape), ...Object.keys(Policy.parse({}))]);
    const text = prose(policyDoc);
    const headings = new Set(
      [...text.matchAll(/^#{2,4} `([^`]+)`/gm)].map((m) => (m[1] as string).split(/\s/)[0]),
    );
    const firstCells = new Set(tableRows(policyDoc).map((row) => row[0]));
    const missing = [...keys].filter((k) => !headings.has(k) && !firstCells.has(k));
    assert.deepEqual(missing, [], "top-level policy keys missing from docs/POLICY.md");
  });

  it("docs/POLICY.md says every part takes effect, and its table covers every call setting and top-level key", () => {
    assert.doesNotMatch(prose(policyDoc), /no effect yet|not (yet )?enforced|takes effect when/i);
    const start = policyDoc.indexOf("## What each part does");
    assert.ok(start >= 0, 'docs/POLICY.md has no "What each part does" section');
    const rows = tableRows(policyDoc.slice(start, policyDoc.indexOf("\n## ", start + 1))).slice(2);
    const covered = new Set<string>();
    for (const [fields = "", status = ""] of rows) {
      assert.ok(["**enforced**", "notes"].includes(status), `status "${status}" of ${fields}`);
      // an entry names a key, or a path from one (`retry.budget`, `tenants.plans.<plan>.settings`)
      for (const entry of fields.split(/,\s*/)) covered.add(/^`?([$A-Za-z]+)/.exec(entry)?.[1] ?? entry);
    }
    const keys = [...Object.keys(Policy.shape), ...Object.keys(CallSettings.shape)];
    assert.deepEqual(
      keys.filter((k) => !covered.has(k)),
      [],
      "keys missing from the table",
    );
  });
});

describe("CLI reference", () => {
  const cliDoc = read("docs/CLI.md");

  it("docs/CLI.md has a section and the exact usage line of every command", () => {
    const headings = new Set([...prose(cliDoc).matchAll(/^### `([^`]+)`\s*$/gm)].map((m) => m[1]));
    for (const [name, command] of Object.entries(commands)) {
      assert.ok(headings.has(name), `docs/CLI.md has no "### \`${name}\`" section`);
      assert.ok(
        cliDoc.includes(`switchyard ${command.usage}`),
        `docs/CLI.md lacks the usage line "switchyard ${command.usage}"`,
      );
    }
    const extra = [...headings].filter((h) => /^[a-z]/.test(h ?? "") && !(h && h in commands));
    assert.deepEqual(extra, [], "docs/CLI.md documents commands the CLI does not have");
  });

  it("docs/CLI.md lists every ExitCode with its value and name", () => {
    const rows = new Map(tableRows(cliDoc).map((row) => [row[0], row[1]]));
    for (const [name, value] of Object.entries(ExitCode)) {
      assert.equal(
        rows.get(String(value)),
        name,
        `docs/CLI.md's exit code table: ${value} should be ${name}`,
      );
    }
  });

  it("each command reads exactly the options of its usage line, and its section of docs/CLI.md names no others", async () => {
    const main = read("cli/src/main.ts");
    const shorts = new Map(
      [...main.matchAll(/^\s+"?([a-z][a-z-]*)"?: \{ type: "\w+", short: "(\w)"/gm)].map((m) => [m[2], m[1]]),
    );
    const global = new Set(["json", "server", "help"]);
    const named = (text: string) =>
      new Set(
        [...text.matchAll(/(?<![\w-])--?([a-z][a-z-]*)/g)]
          .map((m) => (m[0].startsWith("--") ? m[1] : shorts.get(m[1] as string)) as string)
          .filter((f) => f !== undefined && !global.has(f)),
      );
    const sections = prose(cliDoc).split(/^### /m);
    for (const [name, command] of Object.entries(commands)) {
      const usage = named(command.usage.replace(/^[a-z ]+/, ""));
      // every flag has a value ("100" passes every bound); the command stops at its first use of the mesh
      const read = new Set<string>();
      const flags = new Proxy({} as Record<string, string>, {
        get: (_target, key) => {
          if (typeof key === "string" && !global.has(key)) read.add(key);
          return "100";
        },
      });
      const reachedMesh = new Error("reached the mesh");
      await command
        .run({
          args: ["1", "2", "3"],
          flags,
          json: true,
          mesh: () => Promise.reject(reachedMesh),
        })
        .catch(() => undefined);
      assert.deepEqual([...read].sort(), [...usage].sort(), `${name}: options read vs its usage line`);
      const section = sections.find((s) => s.startsWith(`\`${name}\``)) ?? "";
      const documented = [...named(section.replace(/^[^\n]*\n/, ""))].filter((f) => !usage.has(f));
      assert.deepEqual(documented, [], `docs/CLI.md's ${name} section names options its usage line lacks`);
    }
  });

  it("docs/CLI.md names every option the CLI parses", () => {
    // main.ts runs the CLI when imported, so its option table is read as text
    const main = read("cli/src/main.ts");
    const block = main.match(/options: \{([\s\S]*?)\n {6}\},/)?.[1];
    assert.ok(block, "cannot find parseArgs' options in cli/src/main.ts");
    const options = [...block.matchAll(/^\s+"?([a-z][a-z-]*)"?: \{ type:/gm)].map((m) => m[1] as string);
    assert.ok(options.length > 0, "no options found in cli/src/main.ts");
    const missing = options.filter((o) => !cliDoc.includes(`--${o}`));
    assert.deepEqual(missing, [], "options missing from docs/CLI.md");
  });
});
