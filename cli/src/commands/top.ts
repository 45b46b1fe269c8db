import { breakersOf, type EndpointRow, rowsOf, type Sample, sampleOf } from "@switchyard/controller";
import { MeshStatsResponse } from "@switchyard/schemas";
import { type CommandContext, flagInt } from "../context.js";
import { print, table } from "../output.js";
import { gather } from "./services.js";

const DEFAULT_INTERVAL_MS = 1_000;

interface Snapshot {
  readonly sample: Sample;
  readonly breakers: ReturnType<typeof breakersOf>;
  /** Monotonic ms. */
  readonly at: number;
}

async function snapshot(ctx: CommandContext): Promise<Snapshot> {
  const replies = await gather(ctx, "STATS", MeshStatsResponse, ctx.args[0]);
  return { sample: sampleOf(replies), breakers: breakersOf(replies), at: performance.now() };
}

const rows = (now: Snapshot, before: Snapshot) =>
  rowsOf(now.sample, before.sample, now.at - before.at, now.breakers);

const num = (n: number | null, digits = 1) => (n === null ? "-" : n.toFixed(digits));

function render(rows: readonly EndpointRow[], intervalMs: number): string {
  const header = `switchyard top — ${new Date().toISOString()} — every ${intervalMs} ms, Ctrl-C to quit`;
  if (rows.length === 0) return `${header}\nno instances answer $SRV.STATS`;
  return `${header}\n\n${table(
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
    ],
    rows.map((r) => [
      r.service,
      r.endpoint,
      r.instances,
      num(r.callsPerSec),
      r.successRate === null ? "-" : (r.successRate * 100).toFixed(1),
      num(r.p50Ms, 2),
      num(r.p99Ms, 2),
      r.inFlight,
      r.sheds,
      r.quotaDenied,
      breakerText(r.breakers),
    ]),
  )}`;
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
    usage: "top [SERVICE] [--interval MS] [--count N] [--json]",
    summary: "live calls/s, success, p50/p99, in-flight, sheds, quota denials, breakers per endpoint",
    run: async (ctx: CommandContext) => {
      const intervalMs = flagInt(ctx, "interval", 100) ?? DEFAULT_INTERVAL_MS;
      const count = flagInt(ctx, "count", 1);
      let previous = await snapshot(ctx);
      if (ctx.json) {
        // one snapshot: two samples an interval apart, so rates are real
        await new Promise((r) => setTimeout(r, intervalMs));
        const now = await snapshot(ctx);
        print(true, { at: new Date().toISOString(), intervalMs, endpoints: rows(now, previous) }, () => "");
        return;
      }
      const tty = process.stdout.isTTY === true;
      for (let i = 0; count === undefined || i < count; i++) {
        await new Promise((r) => setTimeout(r, intervalMs));
        const now = await snapshot(ctx);
        const text = render(rows(now, previous), intervalMs);
        process.stdout.write(tty ? `\x1b[2J\x1b[H${text}\n` : `${text}\n\n`);
        previous = now;
      }
    },
  },
};
