// Issue 2: docs/ERRORS.md and docs/PROTOCOL.md stay true to the error table.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  codeForStatus,
  DEFAULT_PREFIX,
  ErrorCodes,
  Header,
  isErrorCode,
  NAME_PATTERN,
  PREFIX_PATTERN,
  TENANT_PATTERN,
} from "@switchyard/schemas";

const DOCS = ["ERRORS.md", "PROTOCOL.md"] as const;
const codes = new Set(Object.keys(ErrorCodes));

function read(name: string): string {
  return readFileSync(new URL(`../docs/${name}`, import.meta.url), "utf8");
}

interface Table {
  /** Header cells, lower-cased. */
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** Cells of one table line, trimmed, with a cell's surrounding backticks removed. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/^`(.*)`$/, "$1"));
}

/** Every GitHub-markdown table of a document, outside code fences. */
function tables(markdown: string): Table[] {
  const found: Table[] = [];
  let block: string[] = [];
  let fenced = false;
  const flush = () => {
    const [head, separator, ...rows] = block;
    if (head !== undefined && separator !== undefined && /^\|?\s*:?-{3,}/.test(separator)) {
      found.push({ header: cells(head).map((c) => c.toLowerCase()), rows: rows.map(cells) });
    }
    block = [];
  };
  for (const line of markdown.split("\n")) {
    if (line.trimStart().startsWith("```")) fenced = !fenced;
    if (!fenced && line.trimStart().startsWith("|")) block.push(line);
    else flush();
  }
  flush();
  return found;
}

interface CodeRow {
  readonly code: string;
  readonly status: string;
  readonly retry: string;
  readonly executed: string;
  readonly wire: string | undefined;
}

/** Rows of the tables whose columns include code, status, retry and executed. */
function codeRows(markdown: string): CodeRow[] {
  const rows: CodeRow[] = [];
  for (const table of tables(markdown)) {
    const col = (name: string) => table.header.indexOf(name);
    const [code, status, retry, executed] = ["code", "status", "retry", "executed"].map(col) as [
      number,
      number,
      number,
      number,
    ];
    if (code < 0 || status < 0 || retry < 0 || executed < 0) continue;
    const wire = table.header.findIndex((h) => h === "wire" || h.startsWith("on the wire"));
    for (const row of table.rows) {
      rows.push({
        code: row[code] ?? "",
        status: row[status] ?? "",
        retry: row[retry] ?? "",
        executed: row[executed] ?? "",
        wire: wire < 0 ? undefined : row[wire],
      });
    }
  }
  return rows;
}

function assertSameSet(found: Iterable<string>, where: string): void {
  const seen = new Set(found);
  const missing = [...codes].filter((c) => !seen.has(c));
  const extra = [...seen].filter((c) => !codes.has(c));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${where} differs from ErrorCodes`);
}

describe("docs drift", () => {
  for (const doc of DOCS) {
    it(`${doc}: its error table lists exactly the codes of ErrorCodes, each once`, () => {
      const rows = codeRows(read(doc));
      assert.ok(rows.length > 0, `${doc} has no table with Code, Status, Retry and Executed columns`);
      const names = rows.map((r) => r.code);
      assert.deepEqual(
        names.filter((c, i) => names.indexOf(c) !== i),
        [],
        `${doc} lists a code twice`,
      );
      assertSameSet(names, `${doc}'s error table`);
    });

    it(`${doc}: each code's row has the status, retry, executed and wire values of ErrorCodes`, () => {
      for (const row of codeRows(read(doc))) {
        if (!isErrorCode(row.code)) continue; // reported by the set comparison
        const spec = ErrorCodes[row.code];
        assert.deepEqual(
          { status: row.status, retry: row.retry, executed: row.executed, wire: row.wire },
          {
            status: String(spec.status),
            retry: spec.retry,
            executed: spec.executed,
            wire: row.wire === undefined ? undefined : spec.wire ? "yes" : "no",
          },
          `${doc}, row ${row.code}`,
        );
      }
    });
  }

  it("ERRORS.md has one section per code", () => {
    const headings = [...read("ERRORS.md").matchAll(/^#{2,3} `([A-Z_]+)`\s*$/gm)].map((m) => m[1] as string);
    assertSameSet(headings, "ERRORS.md's sections");
  });

  it("PROTOCOL.md names every header of the Header table", () => {
    const protocol = read("PROTOCOL.md");
    const missing = Object.values(Header).filter((h) => !protocol.includes(`\`${h}\``));
    assert.deepEqual(missing, [], "headers missing from PROTOCOL.md");
  });

  it("PROTOCOL.md states the subject and tenant grammars of schemas", () => {
    const protocol = read("PROTOCOL.md");
    for (const text of [NAME_PATTERN.source, PREFIX_PATTERN.source, TENANT_PATTERN.source, DEFAULT_PREFIX]) {
      assert.ok(protocol.includes(`\`${text}\``), `PROTOCOL.md lacks \`${text}\``);
    }
  });

  it("PROTOCOL.md's status table maps every status as codeForStatus does", () => {
    const table = tables(read("PROTOCOL.md")).find(
      (t) => t.header[0] === "status" && t.header[1] === "mapped code",
    );
    assert.ok(table, "PROTOCOL.md has no Status | Mapped code table");
    const listed = new Map<number, string>();
    let other4xx: string | undefined;
    let otherwise: string | undefined;
    for (const [status = "", code = ""] of table.rows) {
      if (/^\d{3}$/.test(status)) listed.set(Number(status), code);
      else if (status === "any other 4xx") other4xx = code;
      else if (status === "anything else") otherwise = code;
      else assert.fail(`unexpected row ${status}`);
    }
    for (let status = 100; status <= 599; status++) {
      const expected = listed.get(status) ?? (status >= 400 && status < 500 ? other4xx : otherwise);
      assert.equal(codeForStatus(status), expected, `status ${status}`);
    }
  });
});

describe("docs/TELEMETRY.md", () => {
  const source = readFileSync(new URL("../mesh-runtime/src/telemetry/telemetry.ts", import.meta.url), "utf8");
  const doc = read("TELEMETRY.md");

  it("names every instrument the runtime creates", () => {
    // every instrument is made from the METRICS table: name, unit, description
    const table = /const METRICS = \{([\s\S]+?)\} as const/.exec(source)?.[1] ?? "";
    const names = [...table.matchAll(/\w+: \[\s*"([^"]+)"/g)].map((m) => m[1] as string);
    assert.ok(names.length >= 9, `found only ${names.length} instruments`);
    assert.deepEqual(
      names.filter((n) => !doc.includes(`\`${n}\``)),
      [],
    );
  });

  it("names every span event", () => {
    const block = /export const SpanEvent = \{([^}]+)\}/.exec(source)?.[1] ?? "";
    const events = [...block.matchAll(/"([a-z_.]+)"/g)].map((m) => m[1] as string);
    assert.ok(events.length >= 8, `found only ${events.length} events`);
    assert.deepEqual(
      events.filter((e) => !doc.includes(`\`${e}\``)),
      [],
    );
  });
});
