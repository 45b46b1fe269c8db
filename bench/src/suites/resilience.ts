import { withCallers } from "../callers.js";
import { coreContract, echoContract, ORDER, WITHOUT_FLOW_CONTROL } from "../echo-contract.js";
import { interleaved } from "../measure.js";
import { formatCount } from "../report.js";
import type { BenchEnv, SuiteResult } from "../suite.js";

const IN_FLIGHT = 64;
const MODES = ["core", "resilience"] as const;
type Mode = (typeof MODES)[number];

/**
 * What flow control costs on the hot path: the same call with the caller's circuit breaker and the
 * callee's concurrency limiter on (the defaults) against both off, in interleaved rounds.
 */
export function resilience(env: BenchEnv): Promise<SuiteResult> {
  const callers = {
    core: { name: "bench-core-caller", ...WITHOUT_FLOW_CONTROL },
    resilience: { name: "bench-resilience" },
  };
  return withCallers(env, callers, async ({ core, resilience }) => {
    const measured = await interleaved(
      {
        core: () => core.client(coreContract).echo(ORDER),
        resilience: () => resilience.client(echoContract).echo(ORDER),
      },
      IN_FLIGHT,
      env,
    );
    const rate = (mode: Mode) => measured[mode].callsPerSecond;
    return {
      figures: Object.fromEntries(MODES.map((m) => [`${m}@${IN_FLIGHT}.calls-per-s`, Math.round(rate(m))])),
      ratios: {
        [`resilience/core@${IN_FLIGHT}`]: Math.round((rate("resilience") / rate("core")) * 1000) / 1000,
      },
      tables: [
        {
          title: `flow control on the hot path: calls/s at ${IN_FLIGHT} in flight`,
          columns: ["core (breaker, limiter off)", "resilience (defaults)"],
          rows: [MODES.map((m) => formatCount(rate(m)))],
          notes: ["target: resilience ≥ 0.95× core"],
        },
      ],
    };
  });
}
