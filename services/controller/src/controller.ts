import { fileURLToPath } from "node:url";
import type { Msg } from "@nats-io/nats-core";
import {
  connectMesh,
  type Handlers,
  type Mesh,
  MeshError,
  type MeshOptions,
  senderAccount,
} from "@switchyard/runtime";
import {
  AppliedReport,
  appliedSubject,
  configSubject,
  issueDetails,
  Policy,
  type PolicySnapshot,
  parseJsonMessage,
  reportRequestSubject,
  summarizeIssues,
} from "@switchyard/schemas";
import type { Logger } from "pino";
import { controllerContract, type PolicyMeta } from "./contract.js";
import type { ControllerApi } from "./controller-api.js";
import { StatsCollector } from "./dashboard/collector.js";
import { type Dashboard, type DashboardOptions, startDashboard } from "./dashboard/server.js";
import { diffDocuments, renderDiff } from "./policy-diff.js";
import { PolicyStore } from "./policy-store.js";
import { DroppedReports, type ReportSender, RolloutTracker, reportRefusal } from "./rollout.js";

/** Where `npm run build` puts the dashboard's single-page app. */
const DASHBOARD_ASSETS = fileURLToPath(new URL("../../../dashboard/dist", import.meta.url));

export interface ControllerOptions {
  /** Mesh connection options; `name` defaults to "controller". */
  readonly mesh?: Partial<MeshOptions>;
  /** KV replicas of the policy bucket: 1 on a single server, 3 in a cluster. */
  readonly replicas?: number;
  /** Serve the dashboard (and its JSON API) over HTTP; none when absent. */
  readonly dashboard?: Omit<DashboardOptions, "assets"> & { readonly assets?: string };
}

export interface Controller {
  readonly mesh: Mesh;
  /** The dashboard's address, when it is served. */
  readonly dashboardUrl: string | undefined;
  /** Drains the controller's mesh connection. */
  close(): Promise<void>;
}

function meta(s: PolicySnapshot): PolicyMeta {
  return {
    version: s.version,
    hash: s.hash,
    createdAt: s.createdAt,
    ...(s.author === undefined ? {} : { author: s.author }),
    ...(s.note === undefined ? {} : { note: s.note }),
    ...(s.rollbackOf === undefined ? {} : { rollbackOf: s.rollbackOf }),
  };
}

/** Validates a proposed document; INVALID_ARGUMENT lists every issue with its path. */
function validate(document: unknown): Policy {
  const parsed = Policy.safeParse(document);
  if (parsed.success) return parsed.data;
  throw new MeshError(
    "INVALID_ARGUMENT",
    `the policy is invalid: ${summarizeIssues(parsed.error, Number.POSITIVE_INFINITY)}`,
    {
      details: { issues: issueDetails(parsed.error) },
    },
  );
}

export function controllerApi(
  store: PolicyStore,
  tracker: RolloutTracker,
  requestReports: () => void,
  publish: (snapshot: PolicySnapshot) => Promise<void>,
  log: Logger,
): ControllerApi {
  const commitAndPublish = async (next: Parameters<PolicyStore["commit"]>[0]) => {
    const snapshot = await store.commit(next);
    await publish(snapshot);
    return meta(snapshot);
  };
  return {
    apply: async ({ document, expectedVersion, author, note }) => {
      const policy = validate(document);
      const result = await commitAndPublish({ document: policy, expectedVersion, author, note });
      log.info({ version: result.version, author }, "policy applied");
      return result;
    },
    get: async ({ version }) => {
      if (version !== undefined) return store.version(version);
      const current = await store.current();
      if (current === undefined) throw new MeshError("NOT_FOUND", "no policy has been applied yet");
      if (current.snapshot === undefined) {
        throw new MeshError(
          "INTERNAL",
          `the stored policy version ${current.version} is invalid: ${current.problem}`,
          {
            details: { version: current.version },
          },
        );
      }
      return current.snapshot;
    },
    history: async ({ limit }) => ({ versions: (await store.history(limit ?? 20)).map(meta) }),
    diff: async ({ from, to }) => {
      const [a, b] = await Promise.all([store.version(from), store.version(to)]);
      const changes = diffDocuments(a.document, b.document);
      return { from, to, changes, text: renderDiff(changes) };
    },
    rollback: async ({ toVersion, expectedVersion, author }) => {
      const old = await store.version(toVersion);
      const result = await commitAndPublish({
        document: old.document,
        rollbackOf: toVersion,
        expectedVersion,
        author,
        note: `rollback to version ${toVersion}`,
      });
      log.info({ version: result.version, rollbackOf: toVersion }, "policy rolled back");
      return result;
    },
    status: async () => {
      const version = (await store.current())?.version ?? 0;
      // someone waits on a rollout that lags: ask for fresh reports, so the dead drop out soon
      if (tracker.shouldProbe(version, Date.now())) requestReports();
      return { version, instances: tracker.status(version, Date.now()) };
    },
  };
}

/** Who the broker says sent a report (`ReportSender`). */
function reportSender(mesh: Mesh, msg: Msg): ReportSender {
  if (!mesh.vouchesIdentity) return { kind: "unknown" };
  try {
    const account = senderAccount(msg);
    return account === undefined ? { kind: "own" } : { kind: "account", account };
  } catch {
    return { kind: "untrusted" };
  }
}

/**
 * Starts a controller: opens (or creates) the policy bucket, follows the applied subject, serves
 * the controller contract, and asks every runtime to report so `status` is right at once.
 */
export async function startController(options: ControllerOptions = {}): Promise<Controller> {
  const mesh = await connectMesh({ name: "controller", ...options.mesh });
  try {
    const nc = mesh.connection;
    const prefix = mesh.options.prefix;
    const store = await PolicyStore.open(nc, mesh.options.policy.bucket, options.replicas ?? 1);
    await store.repair();
    const tracker = new RolloutTracker();
    const dropped = new DroppedReports();
    nc.subscribe(appliedSubject(prefix), {
      callback: (_err, msg) => {
        const report = parseJsonMessage(AppliedReport, msg.data);
        if (!report.success) {
          mesh.log.warn({ subject: msg.subject }, "malformed report on the applied subject ignored");
          return;
        }
        const refusal = reportRefusal(report.data, reportSender(mesh, msg), mesh.name);
        if (refusal === undefined) {
          tracker.record(report.data, Date.now());
          return;
        }
        // a flood of forged reports must not become a flood of log lines
        const since = dropped.drop(Date.now());
        if (since !== undefined) {
          mesh.log.warn(
            { service: report.data.service, reason: refusal, dropped: since, droppedTotal: dropped.count },
            "rollout report dropped: an instance reports only for its own service",
          );
        }
      },
    });
    const publish = async (snapshot: PolicySnapshot) => {
      nc.publish(configSubject(prefix), JSON.stringify(snapshot));
      await nc.flush();
    };
    const requestReports = () => nc.publish(reportRequestSubject(prefix));
    const api = controllerApi(store, tracker, requestReports, publish, mesh.log);
    const handlers: Handlers<typeof controllerContract> = api;
    await mesh.serve(controllerContract, handlers);
    requestReports();
    let dashboard: Dashboard | undefined;
    let stats: StatsCollector | undefined;
    if (options.dashboard !== undefined) {
      stats = new StatsCollector(nc, async () => (await store.current())?.snapshot?.document);
      dashboard = await startDashboard(
        { assets: DASHBOARD_ASSETS, ...options.dashboard },
        { api, stats, log: mesh.log },
      );
      mesh.log.info({ url: dashboard.url, writable: options.dashboard.token !== undefined }, "dashboard");
    }
    return {
      mesh,
      dashboardUrl: dashboard?.url,
      close: async () => {
        stats?.stop();
        await dashboard?.close();
        await mesh.close();
      },
    };
  } catch (error) {
    await mesh.close();
    throw error;
  }
}
