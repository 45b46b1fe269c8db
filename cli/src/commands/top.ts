import {
  type EdgeRow,
  type EndpointRow,
  readingOf,
  refreshOf,
  type StatsReading,
  type VersionRow,
  type VersionSample,
  versionRowsOf,
  versionSampleOf,
} from "@switchyard/controller";
import { MeshStatsResponse } from "@switchyard/schemas";
import { type CommandContext, flagInt } from "../context.js";
import { print, table } from "../output.js";
import { gather } from "./services.js";

const DEFAULT_INTERVAL_MS = 1_000;

interface Snapshot {
  readonly reading: StatsReading;
  /** Instance totals for the per-version table. */
  readonly versions: VersionSample;
}

async function snapshot(ctx: CommandContext): Promise<Snapshot> {
  const replies = await gather(ctx, "STATS", MeshStatsResponse, ctx.args[0]);
  return { reading: readingOf(replies, performance.now()), versions: versionSampleOf(replies) };
}

/** The figures between two snapshots: endpoints and edges, and traffic per version. */
function refresh(now: Snapshot, before: Snapshot) {
  return {
    ...refreshOf(now.reading, before.reading),
    versions: versionRowsOf(now.versions, before.versions, now.reading.at - before.reading.at),
  };
}

const num = (n: number | null, digits = 1) => (n === null ? "-" : n.toFixed(digits));

const percent = (rate: number | null) => (rate === null ? "-" : (rate * 100).toFixed(1));

function render(
  rows: readonly EndpointRow[],
  edges: readonly EdgeRow[],
  versions: readonly VersionRow[],
  intervalMs: number,
): string {
  const header = `switchyard top — ${new Date().toISOString()} — every ${intervalMs} ms, Ctrl-C to quit`;
  if (rows.length === 0 && edges.length === 0) return `${header}\nno instances answer $SRV.STATS`;
  return `${header}\n\n${endpointTable(rows)}\n\n${versionTable(versions)}${edges.length === 0 ? "" : `\n\n${edgeTable(edges)}`}`;
}

/** A row per service version: where routes send the calls (a canary's share). */
function versionTable(rows: readonly VersionRow[]): string {
  return table(
    ["SERVICE", "VERSION", "INST", "CALLS/S", "SHARE %", "OK %"],
    rows.map((r) => [
      r.service,
      r.version,
      r.instances,
      num(r.callsPerSec),
      percent(r.share),
      percent(r.successRate),
    ]),
  );
}

function endpointTable(rows: readonly EndpointRow[]): string {
  return table(
    [
      "SERVICE",
      "ENDPOINT",
      "INST",
      "CALLS/S",
      "OK %",
      "P50 MS",
      "P99 MS",
      "IN FLIGHT",
      "SHED",
      "QUOTA DENIED",
      "BREAKERS",
      "EJECTED",
    ],
    rows.map((r) => [
      r.service,
      r.endpoint,
      r.instances,
      num(r.callsPerSec),
      percent(r.successRate),
      num(r.p50Ms, 2),
      num(r.p99Ms, 2),
      r.inFlight,
      r.sheds,
      r.quotaDenied,
      breakerText(r.breakers),
      r.ejected,
    ]),
  );
}

/**
 * A row per caller → endpoint: what the callee measured beside what the caller saw, which counts
 * the failures that never reach the callee (CIRCUIT_OPEN, a spent retry budget, a local deadline).
 */
function edgeTable(edges: readonly EdgeRow[]): string {
  const lines: string[][] = [];
  for (const e of edges) {
    const calleeSide = [num(e.callsPerSec), percent(e.successRate)];
    const endpoints = e.callerSide?.endpoints ?? [];
    if (endpoints.length === 0) lines.push([e.caller, e.service, "*", ...calleeSide, "-", "-", "-", "-"]);
    for (const c of endpoints) {
      lines.push([
        e.caller,
        e.service,
        c.endpoint,
        ...calleeSide,
        num(c.callsPerSec),
        percent(c.successRate),
        failureText(c.failures),
        breakerText(c.breakers),
      ]);
    }
  }
  return table(
    [
      "CALLER",
      "SERVICE",
      "ENDPOINT",
      "CALLEE CALLS/S",
      "CALLEE OK %",
      "CALLER CALLS/S",
      "CALLER OK %",
      "CALLER FAILURES",
      "BREAKERS",
    ],
    lines,
  );
}

function failureText(failures: Record<string, number>): string {
  const parts = Object.entries(failures)
    .filter(([, n]) => n > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([code, n]) => `${code} ${n}`);
  return parts.length === 0 ? "-" : parts.join(", ");
}

function breakerText(b: EndpointRow["breakers"]): string {
  const parts = [
    b.open > 0 ? `${b.open} open` : "",
    b["half-open"] > 0 ? `${b["half-open"]} half-open` : "",
    b.closed > 0 ? `${b.closed} closed` : "",
  ].filter(Boolean);
  return parts.length === 0 ? "-" : parts.join(", ");
}

export const topCommands = {
  top: {
    run: async (ctx: CommandContext) => {
      const intervalMs = flagInt(ctx, "interval", 100) ?? DEFAULT_INTERVAL_MS;
      const count = flagInt(ctx, "count", 1);
      let previous = await snapshot(ctx);
      if (ctx.json) {
        // one snapshot: two samples an interval apart, so rates are real
        await new Promise((r) => setTimeout(r, intervalMs));
        const now = await snapshot(ctx);
        print(
          true,
          {
            at: new Date().toISOString(),
            intervalMs,
            ...refresh(now, previous),
          },
          () => "",
        );
        return;
      }
      const tty = process.stdout.isTTY === true;
      for (let i = 0; count === undefined || i < count; i++) {
        await new Promise((r) => setTimeout(r, intervalMs));
        const now = await snapshot(ctx);
        const { endpoints, edges, versions } = refresh(now, previous);
        const text = render(endpoints, edges, versions, intervalMs);
        process.stdout.write(tty ? `\x1b[2J\x1b[H${text}\n` : `${text}\n\n`);
        previous = now;
      }
    },
  },
};
