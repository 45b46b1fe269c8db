import { type Round, type Totals, totals } from "../measure.js";
import { formatCount, formatFixed, formatSpread, roundTo } from "../report.js";
import type { BenchEnv, SuiteResult, Table } from "../suite.js";

/** Requests in flight per setting; 1 is the sequential latency run. */
export const LEVELS = [1, 16, 64, 256] as const;
export type Level = (typeof LEVELS)[number];

/** Clients in the order their rounds alternate. */
export const CLIENTS = ["mesh", "moleculer", "floor-a", "floor-b"] as const;
export type ClientName = (typeof CLIENTS)[number];

/** The mesh on a broker that vouches identity (accounts and tenant tokens), measured at one level. */
export const SECURE = "mesh-secure";
export const SECURE_LEVEL: Level = 64;

/** What the mesh is compared with: a peer framework that does less, and the transport's floors. */
const BASELINES = ["moleculer", "floor-a", "floor-b"] as const;
const CONCURRENT: readonly Level[] = LEVELS.filter((l) => l > 1);

/**
 * Figures are `<client>@<in flight>.<metric-with-unit>`. Ratios are mesh ÷ baseline (the peer or a
 * floor): throughput `mesh/<baseline>@<n>` (below 1: the mesh is slower),
 * `cpu-per-call/<baseline>@<n>` (above 1: the mesh costs more), and the sequential
 * `p50-delta-us/<baseline>` and `p99-delta-us/<baseline>` in µs (above 0: the mesh is slower).
 */
export function summarize(
  roundsOf: (client: ClientName | typeof SECURE, level: Level) => readonly Round[],
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

  const secure = totals(roundsOf(SECURE, SECURE_LEVEL));
  figures[`${SECURE}@${SECURE_LEVEL}.calls-per-s`] = roundTo(secure.callsPerSecond, 0);
  figures[`${SECURE}@${SECURE_LEVEL}.cpu-per-call-us`] = roundTo(secure.cpuPerCallUs, 1);

  const ratios: Record<string, number> = {};
  ratios[`${SECURE}/floor-b@${SECURE_LEVEL}`] = roundTo(
    secure.callsPerSecond / get("floor-b", SECURE_LEVEL).callsPerSecond,
    3,
  );
  ratios[`${SECURE}/mesh@${SECURE_LEVEL}`] = roundTo(
    secure.callsPerSecond / get("mesh", SECURE_LEVEL).callsPerSecond,
    3,
  );
  for (const baseline of BASELINES) {
    for (const level of LEVELS) {
      ratios[`mesh/${baseline}@${level}`] = roundTo(
        get("mesh", level).callsPerSecond / get(baseline, level).callsPerSecond,
        3,
      );
    }
  }
  for (const baseline of BASELINES) {
    ratios[`p50-delta-us/${baseline}`] = roundTo(get("mesh", 1).p50Us - get(baseline, 1).p50Us, 1);
    ratios[`p99-delta-us/${baseline}`] = roundTo(get("mesh", 1).p99Us - get(baseline, 1).p99Us, 1);
  }
  for (const baseline of BASELINES) {
    for (const level of LEVELS) {
      ratios[`cpu-per-call/${baseline}@${level}`] = roundTo(
        get("mesh", level).cpuPerCallUs / get(baseline, level).cpuPerCallUs,
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
    ]).concat([
      [
        SECURE,
        ...CONCURRENT.map((l) =>
          l === SECURE_LEVEL ? `${formatCount(secure.callsPerSecond)} ${formatSpread(secure.spread)}` : "—",
        ),
        ...CONCURRENT.map((l) => (l === SECURE_LEVEL ? formatFixed(secure.cpuPerCallUs) : "—")),
      ],
    ]),
    notes: [
      "mesh: typed client, default options (deadline, retry bookkeeping, breaker, concurrency limit, error mapping, zod input on the callee and output on the caller, pino info)",
      `${SECURE}: the same, on a broker with the accounts \`authz render\` writes, the caller the tenant issuer (a signed tenant token per call, require: verified); at ${SECURE_LEVEL} in flight only`,
      "moleculer: broker.call() to an echo action without params schema; Moleculer 0.15 defaults, NATS transporter, logger off",
      "floor-a: nc.request(subject, bytes, { timeout }) with default connection options",
      "floor-b: one wildcard inbox subscription, publish with reply <prefix><counter>, Map token → resolver",
    ],
  };
  return { figures, ratios, tables: [sequential, throughput] };
}
