import { EventStreams, sendMeshError, startHttpEdge } from "@switchyard/http";
import { MeshError } from "@switchyard/runtime";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { type DashboardSources, readRoutes, writeRoutes } from "./api-routes.js";
import type { StatsCollector } from "./collector.js";
import { sendAsset } from "./static-assets.js";

export interface DashboardOptions {
  readonly port: number;
  /** Default loopback. */
  readonly host?: string;
  /** Bearer token for the writes (apply, rollback); without one the dashboard is read-only. */
  readonly token?: string;
  /** The built single-page app (`npm run build`); a placeholder page when absent. */
  readonly assets: string;
}

export interface Dashboard {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;
const MAX_STREAMS = 64;

/**
 * The dashboard's HTTP side, served by the controller: the single-page app, a JSON API over the
 * statistics the instances publish and the controller's policy, and a server-sent stream of one
 * overview a second. Reads are open; writes need the operator token and go through the
 * controller's own API (the same validation as the CLI's).
 */
export function startDashboard(
  options: DashboardOptions,
  sources: DashboardSources & { readonly log: FastifyBaseLogger },
): Promise<Dashboard> {
  return startHttpEdge(
    {
      name: "dashboard",
      log: sources.log,
      port: options.port,
      ...(options.host === undefined ? {} : { host: options.host }),
      bodyLimitBytes: MAX_BODY,
    },
    (app) => {
      readRoutes(app, sources);
      writeRoutes(app, sources, options.token);
      overviewStream(app, sources.stats);
      singlePageApp(app, options.assets);
    },
  );
}

/**
 * Server-sent events: an `overview` event after every collection, until the client leaves. A
 * client that does not read skips snapshots instead of piling them up in the controller.
 */
function overviewStream(app: FastifyInstance, stats: StatsCollector): void {
  const streams = new EventStreams(app, MAX_STREAMS);
  app.get("/api/stream", async (_request, reply) => {
    const stream = streams.open(reply);
    stream.onClose(stats.subscribe((snapshot) => stream.send("overview", snapshot)));
  });
}

/** Every other path: an unknown API route is 404, a write is 405, a read is the app. */
function singlePageApp(app: FastifyInstance, assets: string): void {
  app.all("/*", async (request, reply) => {
    const pathname = request.url.split("?")[0] ?? "/";
    if (pathname.startsWith("/api/")) throw new MeshError("NOT_FOUND", pathname);
    if (request.method !== "GET")
      return sendMeshError(reply, new MeshError("INVALID_ARGUMENT", "read-only"), 405);
    return sendAsset(reply, assets, pathname);
  });
}
