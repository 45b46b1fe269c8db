import { type Round, type Totals, totals } from "../measure.js";
import { formatCount, formatFixed, formatSpread, roundTo } from "../report.js";
import type { BenchEnv, SuiteResult, Table } from "../suite.js";

/** Requests in flight per setting; 1 is the sequential latency run. */
export const LEVELS = [1, 16, 64, 256] as const;
export type Level = (typeof LEVELS)[number];

/** Clients in the order their rounds alternate. */
export const CLIENTS = ["mesh", "floor-a", "floor-b"] as const;
export type ClientName = (typeof CLIENTS)[number];

const FLOORS = ["floor-a", "floor-b"] as const;
const CONCURRENT: readonly Level[] = LEVELS.filter((l) => l > 1);

/**
 * Figures are `<client>@<in flight>.<metric-with-unit>`. Ratios are mesh ÷ floor: throughput
 * `mesh/<floor>@<n>` (below 1: the mesh is slower), `cpu-per-call/<floor>@<n>` (above 1: the mesh
 * costs more), and the sequential `p50-delta-us/<floor>` and `p99-delta-us/<floor>` in µs.
 */
export function summarize(
  roundsOf: (client: ClientName, level: Level) => readonly Round[],
  env: BenchEnv,
): SuiteResult {
  const t = new Map<string, Totals>();
  for (const client of CLIENTS) {
    for (const level of LEVELS) t.set(`${client}@${level}`, totals(roundsOf(client, level)));
  }
  const get = (client: ClientName, level: Level) => t.get(`${client}@${level}`) as Totals;

  const figures: Record<string, number> = {};
  for (const client of CLIENTS) {
    const seq = get(client, 1);
    figures[`${client}@1.p50-us`] = roundTo(seq.p50Us, 1);
    figures[`${client}@1.p99-us`] = roundTo(seq.p99Us, 1);
    for (const level of LEVELS) {
      const at = get(client, level);
      figures[`${client}@${level}.calls-per-s`] = roundTo(at.callsPerSecond, 0);
      figures[`${client}@${level}.cpu-per-call-us`] = roundTo(at.cpuPerCallUs, 1);
    }
  }

  const ratios: Record<string, number> = {};
  for (const floor of FLOORS) {
    for (const level of LEVELS) {
      ratios[`mesh/${floor}@${level}`] = roundTo(
        get("mesh", level).callsPerSecond / get(floor, level).callsPerSecond,
        3,
      );
    }
  }
  for (const floor of FLOORS) {
    ratios[`p50-delta-us/${floor}`] = roundTo(get("mesh", 1).p50Us - get(floor, 1).p50Us, 1);
    ratios[`p99-delta-us/${floor}`] = roundTo(get("mesh", 1).p99Us - get(floor, 1).p99Us, 1);
  }
  for (const floor of FLOORS) {
    for (const level of LEVELS) {
      ratios[`cpu-per-call/${floor}@${level}`] = roundTo(
        get("mesh", level).cpuPerCallUs / get(floor, level).cpuPerCallUs,
        3,
      );
    }
  }

  const setup = `${env.rounds} rounds × ${env.roundMs} ms per client and setting, interleaved`;
  const sequential: Table = {
    title: `request-reply, sequential (1 in flight): 100-byte JSON, responder in another process; ${setup}`,
    columns: ["client", "p50 µs", "p99 µs", "calls/s", "cpu µs/call"],
    rows: CLIENTS.map((client) => {
      const s = get(client, 1);
      return [
        client,
        formatFixed(s.p50Us),
        formatFixed(s.p99Us),
        `${formatCount(s.callsPerSecond)} ${formatSpread(s.spread)}`,
        formatFixed(s.cpuPerCallUs),
      ];
    }),
  };
  const throughput: Table = {
    title: "request-reply, throughput (calls/s, ± half the round-to-round range) and requester CPU per call",
    columns: [
      "client",
      ...CONCURRENT.map((l) => `calls/s @${l}`),
      ...CONCURRENT.map((l) => `cpu µs/call @${l}`),
    ],
    rows: CLIENTS.map((client) => [
      client,
      ...CONCURRENT.map((l) => {
        const at = get(client, l);
        return `${formatCount(at.callsPerSecond)} ${formatSpread(at.spread)}`;
      }),
      ...CONCURRENT.map((l) => formatFixed(get(client, l).cpuPerCallUs)),
    ]),
    notes: [
      "mesh: typed client, default options (deadline, retry bookkeeping, error mapping, zod in/out, pino info)",
      "floor-a: nc.request(subject, bytes, { timeout }) with default connection options",
      "floor-b: one wildcard inbox subscription, publish with reply <prefix><counter>, Map token → resolver",
    ],
  };
  return { figures, ratios, tables: [sequential, throughput] };
}
