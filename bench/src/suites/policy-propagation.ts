import { controllerContract, startController } from "@switchyard/controller";
import { connectMesh, type Mesh } from "@switchyard/runtime";
import { AppliedReport, appliedSubject, parseJsonMessage } from "@switchyard/schemas";
import { percentile } from "../measure.js";
import type { BenchEnv, SuiteResult } from "../suite.js";

const RUNTIMES = 20;
const APPLIES = 40;
const CONVERGE_TIMEOUT_MS = 10_000;

/**
 * Time from `apply` (the controller call starting) to the last of 20 runtimes reporting the new
 * version on the applied subject, over repeated applies.
 */
export async function policyPropagation(env: BenchEnv): Promise<SuiteResult> {
  const controller = await startController({ mesh: { servers: env.natsUrl, logLevel: "warn" } });
  const runtimes: Mesh[] = [];
  const admin = await connectMesh({
    name: "bench-admin",
    servers: env.natsUrl,
    logLevel: "warn",
    policy: { follow: false },
  });
  try {
    for (let i = 0; i < RUNTIMES; i++) {
      runtimes.push(
        await connectMesh({ name: `bench-runtime-${i}`, servers: env.natsUrl, logLevel: "warn" }),
      );
    }
    const ids = new Set(runtimes.map((r) => r.instanceId));
    const seen = new Map<number, Set<string>>();
    let waiter: { version: number; resolve: () => void } | undefined;
    admin.connection.subscribe(appliedSubject(admin.options.prefix), {
      callback: (_err, msg) => {
        const report = parseJsonMessage(AppliedReport, msg.data);
        if (!report.success || report.data.status !== "applied" || !ids.has(report.data.instanceId)) return;
        const set = seen.get(report.data.version) ?? new Set<string>();
        set.add(report.data.instanceId);
        seen.set(report.data.version, set);
        if (waiter !== undefined && (seen.get(waiter.version)?.size ?? 0) >= RUNTIMES) waiter.resolve();
      },
    });
    await admin.connection.flush();
    const client = admin.client(controllerContract);
    const samples: number[] = [];
    for (let i = 0; i < APPLIES; i++) {
      const document = { services: { bench: { timeoutMs: 1_000 + i } } };
      const started = performance.now();
      let version = 0;
      const converged = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`apply ${i} did not converge`)), CONVERGE_TIMEOUT_MS);
        void client.apply({ document }).then((meta) => {
          version = meta.version;
          waiter = {
            version,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          };
          if ((seen.get(version)?.size ?? 0) >= RUNTIMES) waiter.resolve();
        }, reject);
      });
      await converged;
      samples.push(performance.now() - started);
    }
    const sorted = Float64Array.from(samples).sort();
    const figures = {
      "policy-propagation-p50-ms": round(percentile(sorted, 50)),
      "policy-propagation-p99-ms": round(percentile(sorted, 99)),
      "policy-propagation-max-ms": round(sorted[sorted.length - 1] ?? 0),
    };
    env.log(
      `policy propagation to ${RUNTIMES} runtimes over ${APPLIES} applies: p50 ${figures["policy-propagation-p50-ms"]} ms`,
    );
    return {
      figures,
      ratios: {},
      tables: [
        {
          title: `policy propagation: apply → the last of ${RUNTIMES} runtimes reporting it (${APPLIES} applies)`,
          columns: ["p50 ms", "p99 ms", "max ms"],
          rows: [Object.values(figures).map((v) => v.toFixed(1))],
          notes: ["target: p99 < 250 ms (every runtime within a second, at the worst)"],
        },
      ],
    };
  } finally {
    await Promise.all(runtimes.map((r) => r.close()));
    await admin.close();
    await controller.close();
  }
}

const round = (n: number) => Math.round(n * 10) / 10;
