import { withCallers } from "../callers.js";
import { echoContract, ORDER, tracedContract } from "../echo-contract.js";
import { interleaved, type Totals } from "../measure.js";
import { formatCount } from "../report.js";
import type { BenchEnv, SuiteResult } from "../suite.js";
import { benchTracerProvider } from "../tracing-provider.js";

const IN_FLIGHT = 64;

/**
 * What tracing costs: the same call with both sides recording spans (an SDK tracer provider,
 * sampling everything, a batch processor, an exporter that drops) against both sides on the API's
 * no-op tracer, in interleaved rounds. Trace context is the runtime's own W3C codec in both
 * processes (no global propagator is installed, so the "off" side is the library with no SDK).
 */
export async function tracing(env: BenchEnv): Promise<SuiteResult> {
  const tracerProvider = benchTracerProvider();
  const callers = {
    on: { name: "bench-traced-caller", telemetry: { tracerProvider } },
    off: { name: "bench-untraced-caller" },
  };
  try {
    return await withCallers(env, callers, async ({ on, off }) => {
      const m = await interleaved(
        {
          off: () => off.client(echoContract).echo(ORDER),
          on: () => on.client(tracedContract).echo(ORDER),
        },
        IN_FLIGHT,
        env,
      );
      return report(m.on, m.off);
    });
  } finally {
    await tracerProvider.shutdown();
  }
}

function report(on: Totals, off: Totals): SuiteResult {
  const ratio = on.callsPerSecond / off.callsPerSecond;
  // at saturation the machine's time per call is what tracing adds to, on both processes
  const wallUs = 1e6 / on.callsPerSecond - 1e6 / off.callsPerSecond;
  const callerCpuUs = on.cpuPerCallUs - off.cpuPerCallUs;
  return {
    figures: {
      [`tracing-off@${IN_FLIGHT}.calls-per-s`]: Math.round(off.callsPerSecond),
      [`tracing-on@${IN_FLIGHT}.calls-per-s`]: Math.round(on.callsPerSecond),
      "tracing.added-us-per-call": Math.round(wallUs * 10) / 10,
      "tracing.added-caller-cpu-us-per-call": Math.round(callerCpuUs * 10) / 10,
    },
    ratios: { [`tracing/no-tracing@${IN_FLIGHT}`]: Math.round(ratio * 1000) / 1000 },
    tables: [
      {
        title: `tracing on the hot path: calls/s at ${IN_FLIGHT} in flight`,
        columns: [
          "tracing off (no SDK)",
          "tracing on (SDK, 100% sampled)",
          "added µs/call",
          "caller CPU µs/call",
        ],
        rows: [
          [
            formatCount(off.callsPerSecond),
            formatCount(on.callsPerSecond),
            wallUs.toFixed(1),
            `+${callerCpuUs.toFixed(1)}`,
          ],
        ],
        notes: [
          "target: tracing/no-tracing ≥ 0.75×",
          "added µs/call: 1/rate(on) − 1/rate(off), the machine's time per call (both processes)",
        ],
      },
    ],
  };
}
