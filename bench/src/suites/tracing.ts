import { connectMesh } from "@switchyard/runtime";
import { echoContract, ORDER, tracedContract } from "../echo-contract.js";
import { interleaved } from "../measure.js";
import { formatCount } from "../report.js";
import { startResponder } from "../responder-process.js";
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
  const responder = await startResponder(env.natsUrl);
  const tracerProvider = benchTracerProvider();
  const on = await connectMesh({
    name: "bench-traced-caller",
    servers: env.natsUrl,
    logLevel: "warn",
    telemetry: { tracerProvider },
  });
  const off = await connectMesh({ name: "bench-untraced-caller", servers: env.natsUrl, logLevel: "warn" });
  try {
    const m = await interleaved(
      {
        off: () => off.client(echoContract).echo(ORDER),
        on: () => on.client(tracedContract).echo(ORDER),
      },
      IN_FLIGHT,
      env,
    );
    const ratio = m.on.callsPerSecond / m.off.callsPerSecond;
    // at saturation the machine's time per call is what tracing adds to, on both processes
    const wallUs = 1e6 / m.on.callsPerSecond - 1e6 / m.off.callsPerSecond;
    const callerCpuUs = m.on.cpuPerCallUs - m.off.cpuPerCallUs;
    return {
      figures: {
        [`tracing-off@${IN_FLIGHT}.calls-per-s`]: Math.round(m.off.callsPerSecond),
        [`tracing-on@${IN_FLIGHT}.calls-per-s`]: Math.round(m.on.callsPerSecond),
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
              formatCount(m.off.callsPerSecond),
              formatCount(m.on.callsPerSecond),
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
  } finally {
    await Promise.all([on.close(), off.close()]);
    await tracerProvider.shutdown();
    await responder.stop();
  }
}
