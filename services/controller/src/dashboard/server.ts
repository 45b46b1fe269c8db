import { timingSafeEqual } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, isAbsolute, join, relative, resolve } from "node:path";
import { isMeshError, MeshError } from "@switchyard/runtime";
import { summarizeIssues } from "@switchyard/schemas";
import type { z } from "zod";
import { controllerContract } from "../contract.js";
import type { ControllerApi } from "../controller.js";
import type { PolicyView, ServicePage } from "./api.js";
import type { StatsCollector } from "./collector.js";

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

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
};
const MAX_BODY = 1024 * 1024;
const MAX_STREAMS = 64;

const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>Switchyard</title>
<p>The dashboard is not built: run <code>npm run build</code>. Its JSON API is under <a href="/api/overview">/api/overview</a>.</p>`;

/**
 * The dashboard's HTTP side, served by the controller: the single-page app, a JSON API over the
 * statistics the instances publish and the controller's policy, and a server-sent stream of one
 * overview a second. Reads are open; writes need the operator token and go through the
 * controller's own API (the same validation as the CLI's).
 */
export async function startDashboard(
  options: DashboardOptions,
  api: ControllerApi,
  stats: StatsCollector,
): Promise<Dashboard> {
  const authorized = (req: IncomingMessage) => {
    if (options.token === undefined) return false;
    const given = Buffer.from(req.headers.authorization?.replace(/^Bearer /, "") ?? "");
    const want = Buffer.from(options.token);
    return given.length === want.length && timingSafeEqual(given, want);
  };

  const routes: Array<[string, RegExp, (req: IncomingMessage, m: RegExpExecArray) => Promise<unknown>]> = [
    ["GET", /^\/api\/overview$/, async () => stats.snapshot()],
    [
      "GET",
      /^\/api\/services\/([A-Za-z0-9_-]+)$/,
      async (_req, m): Promise<ServicePage> => {
        const snap = await stats.snapshot();
        const name = m[1] as string;
        const endpoints = snap.endpoints.filter((e) => e.service === name);
        if (endpoints.length === 0) throw new MeshError("NOT_FOUND", `no service ${name} answers discovery`);
        return {
          name,
          instances: snap.instances.filter((i) => i.service === name),
          endpoints: endpoints.map((e) => ({ ...e, history: stats.history(name, e.endpoint) })),
          callers: snap.edges.filter((e) => e.service === name),
          callees: snap.edges.filter((e) => e.caller === name),
        };
      },
    ],
    [
      "GET",
      /^\/api\/policy$/,
      async (): Promise<PolicyView> => {
        const [status, history] = await Promise.all([api.status({}), api.history({ limit: 50 })]);
        const current = status.version > 0 ? await api.get({}) : undefined;
        return { current, history: history.versions, rollout: status };
      },
    ],
    [
      "GET",
      /^\/api\/policy\/diff\/(\d+)\/(\d+)$/,
      async (_req, m) => api.diff(parseInput("diff", { from: Number(m[1]), to: Number(m[2]) })),
    ],
    ["GET", /^\/api\/quotas$/, async () => (await stats.snapshot()).quotas],
    [
      "POST",
      /^\/api\/policy$/,
      async (req) => {
        if (!authorized(req))
          throw new MeshError("UNAUTHENTICATED", "applying a policy needs the operator token");
        const body = await readJson(req);
        const fields = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
        return api.apply(parseInput("apply", { ...fields, author: "dashboard" }));
      },
    ],
    [
      "POST",
      /^\/api\/policy\/rollback\/(\d+)$/,
      async (req, m) => {
        if (!authorized(req)) throw new MeshError("UNAUTHENTICATED", "a rollback needs the operator token");
        return api.rollback(parseInput("rollback", { toVersion: Number(m[1]), author: "dashboard" }));
      },
    ],
  ];

  const streams = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://dashboard");
    if (req.method === "GET" && url.pathname === "/api/stream") return stream(res, stats, streams);
    const route = routes.find(([method, path]) => method === req.method && path.test(url.pathname));
    if (route !== undefined) {
      const [, path, handle] = route;
      handle(req, path.exec(url.pathname) as RegExpExecArray).then(
        (body) => json(res, 200, body),
        (error: unknown) => {
          const e = isMeshError(error)
            ? error
            : new MeshError("INTERNAL", "the dashboard failed", { cause: error });
          json(res, e.status, { error: { code: e.code, message: e.message, details: e.details } });
        },
      );
      return;
    }
    if (url.pathname.startsWith("/api/"))
      return json(res, 404, { error: { code: "NOT_FOUND", message: url.pathname } });
    if (req.method !== "GET")
      return json(res, 405, { error: { code: "INVALID_ARGUMENT", message: "read-only" } });
    serveAsset(res, options.assets, url.pathname);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type Endpoints = (typeof controllerContract)["endpoints"];

/** A request for the controller, validated by its contract, as the mesh validates the CLI's. */
function parseInput<K extends keyof Endpoints>(endpoint: K, value: unknown): z.output<Endpoints[K]["input"]> {
  const parsed = controllerContract.endpoints[endpoint].input.safeParse(value);
  if (!parsed.success) {
    throw new MeshError("INVALID_ARGUMENT", `invalid ${endpoint} request: ${summarizeIssues(parsed.error)}`, {
      details: { issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    });
  }
  return parsed.data as z.output<Endpoints[K]["input"]>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Server-sent events: an `overview` event after every collection, until the client leaves. A
 * client that does not read skips snapshots instead of piling them up in the controller.
 */
function stream(res: ServerResponse, stats: StatsCollector, open: Set<ServerResponse>): void {
  if (open.size >= MAX_STREAMS) {
    json(res, 503, { error: { code: "OVERLOADED", message: `${MAX_STREAMS} streams are open already` } });
    return;
  }
  open.add(res);
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    Connection: "keep-alive",
  });
  res.write(": switchyard\n\n");
  const unsubscribe = stats.subscribe((snapshot) => {
    if (!res.writableNeedDrain) res.write(`event: overview\ndata: ${JSON.stringify(snapshot)}\n\n`);
  });
  res.on("close", () => {
    unsubscribe();
    open.delete(res);
  });
}

function serveAsset(res: ServerResponse, root: string, pathname: string): void {
  if (!existsSync(join(root, "index.html"))) {
    res.writeHead(200, { "Content-Type": TYPES[".html"] as string });
    res.end(PLACEHOLDER);
    return;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    json(res, 400, { error: { code: "INVALID_ARGUMENT", message: "malformed path" } });
    return;
  }
  // only files inside the build; any other path is a route of the single-page app
  const file = resolve(root, `.${decoded}`);
  const rel = relative(root, file);
  const inside = rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
  const target = inside && existsSync(file) && statSync(file).isFile() ? file : join(root, "index.html");
  res.writeHead(200, { "Content-Type": TYPES[extname(target)] ?? "application/octet-stream" });
  createReadStream(target)
    .on("error", () => res.destroy())
    .pipe(res);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new MeshError("PAYLOAD_TOO_LARGE", `the body exceeds ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new MeshError("INVALID_ARGUMENT", "the body is not JSON");
  }
}
