import { EventStreams, sendMeshError, startHttpEdge } from "@switchyard/http";
import { MeshError } from "@switchyard/runtime";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { type DashboardSources, readRoutes, writeRoutes } from "./api-routes.js";
import type { StatsCollector } from "./collector.js";
import { allowedHosts, checkHost } from "./host-check.js";
import { sendAsset } from "./static-assets.js";

export interface DashboardOptions {
  readonly port: number;
  /** Default loopback. */
  readonly host?: string;
  /**
   * Names the dashboard answers to besides localhost, 127.0.0.1, [::1] and `host` (a `Host`
   * header naming anything else is refused: DNS rebinding); the name a proxy serves it under.
   */
  readonly allowedHosts?: readonly string[];
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
// one browser needs a stream per tab: a few, so one client cannot take every stream
const MAX_STREAMS_PER_CLIENT = 4;

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
      checkHost(app, allowedHosts(options.host, options.allowedHosts));
      readRoutes(app, sources);
      writeRoutes(app, sources, options.token);
      overviewStream(app, sources.stats);
      singlePageApp(app, options.assets);
    },
  );
}

/**
 * Server-sent events: an `overview` event after every collection, until the client leaves. A
 * client that does not read skips snapshots instead of piling them up in the controller. Each
 * client address holds at most MAX_STREAMS_PER_CLIENT of them (`OVERLOADED` past it).
 */
function overviewStream(app: FastifyInstance, stats: StatsCollector): void {
  const streams = new EventStreams(app, MAX_STREAMS);
  const perClient = new Map<string, number>();
  app.get("/api/stream", async (request, reply) => {
    const client = request.ip;
    const open = perClient.get(client) ?? 0;
    if (open >= MAX_STREAMS_PER_CLIENT)
      throw new MeshError("OVERLOADED", `${MAX_STREAMS_PER_CLIENT} streams are open from ${client} already`);
    const stream = streams.open(reply);
    perClient.set(client, open + 1);
    stream.onClose(() => {
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
    });
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
