import { controllerContract, startController } from "@switchyard/controller";
import { connectMesh } from "@switchyard/runtime";
import { echoContract, ORDER } from "../echo-contract.js";
import { type Round, runConcurrent, totals } from "../measure.js";
import { benchRedis } from "../redis-server.js";
import { formatCount } from "../report.js";
import { startResponder } from "../responder-process.js";
import type { BenchEnv, SuiteResult } from "../suite.js";

const IN_FLIGHT = 64;
// limits far above what the machine can do: the bench measures the cost of deciding, not denials
const RATE = 10_000_000;
const MODES = ["no-quota", "quota-lease", "quota-exact"] as const;
type Mode = (typeof MODES)[number];
const TENANT: Record<Mode, string> = {
  "no-quota": "free-tenant",
  "quota-lease": "lease-tenant",
  "quota-exact": "exact-tenant",
};

/**
 * The quota step's cost: calls/s at 64 in flight for a tenant with no quota rule, one with a rule
 * in lease mode (a Redis call per lease), and one in exact mode (a Redis call per request), in
 * interleaved rounds against one responder process that enforces them against a real redis-server.
 */
export async function quota(env: BenchEnv): Promise<SuiteResult> {
  const redis = await benchRedis();
  const controller = await startController({ mesh: { servers: env.natsUrl, logLevel: "warn" } });
  const responder = await startResponder(env.natsUrl, { REDIS_URL: redis.url });
  const mesh = await connectMesh({ name: "bench-quota-caller", servers: env.natsUrl, logLevel: "warn" });
  try {
    const rule = (name: string, tenant: string, leaseTokens: number) => ({
      name,
      match: { tenant, service: echoContract.name, endpoint: "*" },
      rate: RATE,
      periodMs: 1_000,
      onStoreFailure: "closed" as const,
      leaseTokens,
    });
    await mesh.client(controllerContract).apply({
      document: {
        quotas: [
          rule("bench-lease", TENANT["quota-lease"], 100),
          rule("bench-exact", TENANT["quota-exact"], 0),
        ],
      },
    });
    const echo = mesh.client(echoContract);
    const call = (mode: Mode) => () => echo.echo(ORDER, { tenant: TENANT[mode], maxAttempts: 1 });
    // closed rules: a call that did not go through Redis would fail here instead of skewing the numbers
    for (const mode of MODES) {
      for (let i = 0; i < 50; i++) await call(mode)();
      await runConcurrent(call(mode), IN_FLIGHT, env.warmupMs);
    }
    const rounds = new Map<Mode, Round[]>(MODES.map((m) => [m, []]));
    for (let r = 0; r < env.rounds; r++) {
      for (const mode of MODES)
        rounds.get(mode)?.push(await runConcurrent(call(mode), IN_FLIGHT, env.roundMs));
    }
    const rate = (mode: Mode) => totals(rounds.get(mode) ?? []).callsPerSecond;
    const figures: Record<string, number> = {};
    for (const mode of MODES) figures[`${mode}@${IN_FLIGHT}.calls-per-s`] = Math.round(rate(mode));
    const ratios = {
      [`quota-lease/no-quota@${IN_FLIGHT}`]:
        Math.round((rate("quota-lease") / rate("no-quota")) * 1000) / 1000,
      [`quota-exact/no-quota@${IN_FLIGHT}`]:
        Math.round((rate("quota-exact") / rate("no-quota")) * 1000) / 1000,
    };
    return {
      figures,
      ratios,
      tables: [
        {
          title: `quotas: calls/s at ${IN_FLIGHT} in flight, responder enforcing against redis-server`,
          columns: MODES.map((m) => m),
          rows: [MODES.map((m) => formatCount(rate(m)))],
          notes: ["targets: quota-lease ≥ 0.9× and quota-exact ≥ 0.5× of no-quota"],
        },
      ],
    };
  } finally {
    await mesh.close();
    await responder.stop();
    await controller.close();
    await redis.stop();
  }
}
