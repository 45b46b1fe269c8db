// Issue 2: docs/ERRORS.md and docs/PROTOCOL.md stay true to the error table.
// Issue 13: claims the docs make about behaviour are checked against a real service.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { headers } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { defineContract, isMeshError, MeshError } from "@switchyard/runtime";
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
import { z } from "zod";
import { echoContract } from "./fixtures/contracts.js";
import { eventually } from "./fixtures/eventually.js";
import { captureLogs, meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { suiteScope } from "./fixtures/processes.js";

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
  readonly blame: string | undefined;
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
    const blame = table.header.indexOf("blame");
    for (const row of table.rows) {
      rows.push({
        code: row[code] ?? "",
        status: row[status] ?? "",
        retry: row[retry] ?? "",
        executed: row[executed] ?? "",
        blame: blame < 0 ? undefined : row[blame],
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

    it(`${doc}: each code's row has the status, retry, executed, blame and wire values of ErrorCodes`, () => {
      const rows = codeRows(read(doc));
      assert.ok(
        rows.every((r) => r.blame !== undefined),
        `${doc}'s error table has a Blame column`,
      );
      for (const row of rows) {
        if (!isErrorCode(row.code)) continue; // reported by the set comparison
        const spec = ErrorCodes[row.code];
        assert.deepEqual(
          { status: row.status, retry: row.retry, executed: row.executed, blame: row.blame, wire: row.wire },
          {
            status: String(spec.status),
            retry: spec.retry,
            executed: spec.executed,
            blame: spec.blame,
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

/** A section of a markdown document: from its heading to the next heading of any level. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `no section ${heading}`);
  const end = markdown.slice(start + heading.length + 2).search(/^#{1,6} /m);
  return end < 0 ? markdown.slice(start) : markdown.slice(start, start + heading.length + 2 + end);
}

/** The backticked names of a "with `a`, `b` and `c`" list in `text`. */
function withFields(text: string): string[] {
  const list = /with ((?:`\w+`(?:,? and |, )?)+)/.exec(text.replace(/\s+/g, " "))?.[1] ?? "";
  return [...list.matchAll(/`(\w+)`/g)].map((m) => m[1] as string);
}

const documented = defineContract({
  name: "documented",
  version: "1.0.0",
  endpoints: {
    big: { input: z.object({ bytes: z.number().int() }), output: z.object({ text: z.string() }) },
    fail: { input: z.object({ status: z.enum(["conflict", "unavailable", "bug"]) }), output: z.object({}) },
  },
});

describe("documented behaviour, against a real service", () => {
  const scope = suiteScope();
  const logs = captureLogs("debug");
  let nats: NatsNode;
  before(async () => {
    nats = await startNats(scope);
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())],
    });
    const service = await meshFor(scope, nats.url, "documented", {
      logger: logs.logger,
      telemetry: { tracerProvider },
    });
    await service.serve(echoContract, {
      say: ({ text }, ctx) => ({ text, ...(ctx.tenant === undefined ? {} : { tenant: ctx.tenant }) }),
      sayAgain: ({ text }) => ({ text }),
    });
    await service.serve(documented, {
      big: ({ bytes }) => ({ text: "x".repeat(bytes) }),
      fail: ({ status }) => {
        if (status === "conflict")
          throw new MeshError("CONFLICT", "being edited", { details: { orderId: 7 } });
        if (status === "unavailable") throw new MeshError("UNAVAILABLE", "down", { details: { shard: 3 } });
        throw new Error("a bug");
      },
    });
  });

  it("PROTOCOL.md: of a header sent twice, the first value counts, as nats.js get() reads it", async (t) => {
    assert.match(section(read("PROTOCOL.md"), "## 3. Request").replace(/\s+/g, " "), /uses the first value/);
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    const h = headers();
    h.append("Mesh-Tenant", "first");
    h.append("Mesh-Tenant", "second");
    const reply = await nc.request("mesh.svc.echo.say", JSON.stringify({ text: "hi" }), {
      headers: h,
      timeout: 5_000,
    });
    assert.equal(h.get("Mesh-Tenant"), "first");
    assert.deepEqual(reply.json(), { text: "hi", tenant: "first" });
  });

  it("ERRORS.md: a reply over max_payload is INTERNAL, not PAYLOAD_TOO_LARGE", async (t) => {
    const errors = read("ERRORS.md");
    assert.doesNotMatch(section(errors, "## `PAYLOAD_TOO_LARGE`"), /when its reply/);
    assert.match(
      section(errors, "## `INTERNAL`").replace(/\s+/g, " "),
      /a reply larger than the NATS server's `max_payload`/,
    );
    const caller = await meshFor(t, nats.url, "caller", { calls: { retry: { maxAttempts: 1 } } });
    const error = await caller
      .call("documented", "big", { bytes: 1024 * 1024 + 1 }, { timeoutMs: 5_000 })
      .catch((e: unknown) => e);
    assert.ok(isMeshError(error), String(error));
    assert.equal(error.code, "INTERNAL");
  });

  it("TELEMETRY.md: each outcome's log line carries the fields it lists", async (t) => {
    const logsDoc = section(read("TELEMETRY.md"), "## 4. Logs");
    const bullet = (start: string) => {
      const found = logsDoc.split(/\n(?=- )/).find((b) => b.startsWith(`- ${start}`));
      assert.ok(found, `TELEMETRY.md §4 has no bullet "${start}"`);
      return found;
    };
    const common = [
      ...(/carries ([^(]+)\(/.exec(logsDoc.replace(/\s+/g, " "))?.[1] ?? "").matchAll(/`(\w+)`/g),
    ].map((m) => m[1] as string);
    assert.ok(common.includes("trace_id"), `no common fields found in ${logsDoc}`);
    const outcomes = [
      { status: undefined, level: 20, msg: "request handled", fields: withFields(bullet("success")) },
      {
        status: "conflict",
        level: 40,
        msg: "being edited",
        fields: withFields(bullet("the caller's fault")),
      },
      { status: "unavailable", level: 50, msg: "down", fields: withFields(bullet("the service's fault")) },
      {
        status: "bug",
        level: 50,
        msg: "the handler failed",
        fields: withFields(bullet("the service's fault")),
      },
    ] as const;
    const absent = [...bullet("the service's fault").matchAll(/no `(\w+)` field/g)].map(
      (m) => m[1] as string,
    );
    assert.deepEqual(absent, ["details"]);

    const caller = await meshFor(t, nats.url, "caller", { calls: { retry: { maxAttempts: 1 } } });
    for (const outcome of outcomes) {
      const sent = logs.lines.length;
      await (outcome.status === undefined
        ? caller.call("documented", "big", { bytes: 1 }, { tenant: "acme" })
        : caller
            .call("documented", "fail", { status: outcome.status }, { tenant: "acme" })
            .catch(() => undefined));
      const line = await eventually(() => {
        const mine = logs.lines.slice(sent).filter((l) => l["endpoint"] !== undefined);
        assert.equal(mine.length, 1, `one line per request, got ${JSON.stringify(mine)}`);
        return mine[0] as Record<string, unknown>;
      });
      assert.equal(line["level"], outcome.level, JSON.stringify(line));
      assert.match(String(line["msg"]), new RegExp(outcome.msg));
      const missing = [...common, ...outcome.fields].filter((f) => line[f] === undefined);
      assert.deepEqual(missing, [], `${outcome.status ?? "success"}: ${JSON.stringify(line)}`);
      if (outcome.level === 50) for (const f of absent) assert.equal(line[f], undefined, f);
    }
  });
});
