import { connectMesh } from "@switchyard/runtime";
import { LATENCY_COLUMNS, latencyFigures, latencyRow } from "../latency.js";
import type { BenchEnv, SuiteResult } from "../suite.js";
import { cancelContract } from "../timing-contracts.js";

const CALLS_PER_ROUND = 20;

/** What the callee tells the suite: a call started; its signal aborted (performance.now()). */
interface Callee {
  started: () => void;
  aborted: (at: number) => void;
}

/**
 * Time from a caller giving up (its AbortSignal) to the callee's `ctx.signal` aborting, directly
 * and through one hop in between. (The cancellation test asserts that it aborts; how soon is here.)
 */
export async function cancellation(env: BenchEnv): Promise<SuiteResult> {
  const server = await connectMesh({ name: "bench-cancel", servers: env.natsUrl, logLevel: "silent" });
  const caller = await connectMesh({ name: "bench-cancel-caller", servers: env.natsUrl, logLevel: "silent" });
  let callee: Callee | undefined;
  try {
    await server.serve(cancelContract, {
      relay: (input, ctx) => ctx.client(cancelContract).hold(input),
      hold: (_input, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            callee?.aborted(performance.now());
            reject(ctx.signal.reason);
          });
          callee?.started();
        }),
    });
    const abortDelayMs = async (endpoint: "hold" | "relay"): Promise<number> => {
      let started!: () => void;
      let aborted!: (at: number) => void;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const abortedAt = new Promise<number>((resolve) => {
        aborted = resolve;
      });
      callee = { started, aborted };
      const controller = new AbortController();
      const pending = caller
        .client(cancelContract)
        [endpoint]({}, { signal: controller.signal, timeoutMs: 10_000 });
      await running;
      const gaveUpAt = performance.now();
      controller.abort();
      await pending.catch(() => undefined);
      return (await abortedAt) - gaveUpAt;
    };
    const samples = { hold: [] as number[], relay: [] as number[] };
    for (let r = 0; r < env.rounds + 1; r++) {
      for (const endpoint of ["hold", "relay"] as const) {
        for (let i = 0; i < CALLS_PER_ROUND; i++) {
          const ms = await abortDelayMs(endpoint);
          if (r > 0) samples[endpoint].push(ms); // round 0 warms up
        }
      }
    }
    const direct = latencyFigures("cancellation.direct", samples.hold);
    const hop = latencyFigures("cancellation.one-hop", samples.relay);
    return {
      figures: { ...direct, ...hop },
      ratios: {},
      tables: [
        {
          title: "cancellation: ms from the caller's abort to the callee's ctx.signal aborting",
          columns: [...LATENCY_COLUMNS],
          rows: [latencyRow("caller → callee", direct), latencyRow("caller → hop → callee", hop)],
          notes: ["target: max < 50 ms"],
        },
      ],
    };
  } finally {
    await Promise.all([caller.close(), server.close()]);
  }
}
