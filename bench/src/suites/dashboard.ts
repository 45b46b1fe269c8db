import { connect } from "@nats-io/transport-node";
import { startController } from "@switchyard/controller";
import { publishStats } from "../../../test/fixtures/stats-publishers.js";
import { LATENCY_COLUMNS, latencyFigures, latencyRow } from "../latency.js";
import type { BenchEnv, SuiteResult } from "../suite.js";

const SERVICES = 50;
const PER_SERVICE = 4;
const COLLECTIONS = 5;

async function overview(url: string): Promise<{ at: string; collectMs: number }> {
  const res = await fetch(`${url}/api/overview`);
  if (res.status !== 200) throw new Error(`GET /api/overview: ${res.status}`);
  return (await res.json()) as { at: string; collectMs: number };
}

/**
 * The dashboard with 50 services and 200 instances publishing statistics: how fast the overview
 * answers, and the CPU each once-a-second collection costs. (The dashboard test asserts what it
 * shows; these speeds are here.)
 */
export async function dashboard(env: BenchEnv): Promise<SuiteResult> {
  const controller = await startController({
    mesh: { servers: env.natsUrl, logLevel: "silent" },
    dashboard: { port: 0 },
  });
  const nc = await connect({ servers: env.natsUrl });
  try {
    publishStats(nc, SERVICES, PER_SERVICE);
    await nc.flush();
    const url = controller.dashboardUrl as string;
    let last = await overview(url);
    const answers: number[] = [];
    const collections: number[] = [];
    // collecting runs once a second: poll until the overview shows each next one; the first
    // collection warms up (its figures are not kept)
    let seen = 0;
    while (collections.length < COLLECTIONS) {
      const startedAt = performance.now();
      const next = await overview(url);
      if (seen > 0) answers.push(performance.now() - startedAt);
      if (next.at !== last.at && seen++ > 0) collections.push(next.collectMs);
      if (next.at === last.at) await new Promise((resolve) => setTimeout(resolve, 50));
      last = next;
    }
    const answer = latencyFigures("dashboard.overview", answers);
    const collect = latencyFigures("dashboard.collection-cpu", collections);
    return {
      figures: { ...answer, ...collect },
      ratios: {},
      tables: [
        {
          title: `dashboard with ${SERVICES} services, ${SERVICES * PER_SERVICE} instances publishing statistics`,
          columns: [...LATENCY_COLUMNS],
          rows: [latencyRow("GET /api/overview", answer), latencyRow("one collection's CPU", collect)],
          notes: ["target: the overview answers in < 500 ms; a collection costs < 200 ms of its second"],
        },
      ],
    };
  } finally {
    await nc.close();
    await controller.close();
  }
}
