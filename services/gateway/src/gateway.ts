import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  context,
  isSpanContextValid,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { isMeshError, type Mesh, MeshError } from "@switchyard/runtime";
import { ordersContract } from "@switchyard/service-orders";
import type { ApiKeys } from "./api-keys.js";

export interface GatewayOptions {
  readonly mesh: Mesh;
  readonly keys: ApiKeys;
  readonly port: number;
  /** Default loopback; a container listens on 0.0.0.0. */
  readonly host?: string;
  /** Largest request body, in bytes (413 above it). */
  readonly maxBodyBytes?: number;
}

export interface Gateway {
  readonly url: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 64 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const tracer = trace.getTracer("@switchyard/gateway");

/** A route's answer: a status and a JSON body. */
interface Reply {
  readonly status: number;
  readonly body: unknown;
}

type Route = (req: IncomingMessage, tenant: string, params: string[]) => Promise<Reply>;

/**
 * The HTTP ingress of the example system: authenticates the API key (a request without a valid
 * one gets 401 and never reaches the mesh), calls the mesh for the key's tenant, and maps mesh
 * errors to HTTP statuses (`Retry-After` when the mesh says when to retry).
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { mesh, keys } = options;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const orders = mesh.client(ordersContract);
  const routes: Array<[method: string, path: RegExp, route: Route]> = [
    [
      "POST",
      /^\/orders$/,
      async (req, tenant) => ({
        status: 201,
        body: await orders.create((await readJson(req, maxBody)) as never, { tenant }),
      }),
    ],
    [
      "GET",
      /^\/orders\/([A-Za-z0-9_-]{1,64})$/,
      async (_req, tenant, [id]) => ({
        status: 200,
        body: await orders.get({ orderId: id as string }, { tenant }),
      }),
    ],
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse, span: Span) => {
    const url = new URL(req.url ?? "/", "http://gateway");
    if (req.method === "GET" && url.pathname === "/healthz") return send(res, 200, { ok: true });
    const match = routes.find(([method, path]) => method === req.method && path.test(url.pathname));
    if (match === undefined)
      return send(res, 404, errorBody("NOT_FOUND", `no route for ${req.method} ${url.pathname}`));
    const [, path, route] = match;
    span.updateName(`${req.method} ${path.source.replace(/^\^|\$$/g, "")}`);
    const tenant = keys.tenantOf(apiKeyOf(req));
    if (tenant === undefined) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="switchyard"');
      return send(
        res,
        401,
        errorBody("UNAUTHENTICATED", "a valid API key is required (Authorization: Bearer <key>)"),
      );
    }
    span.setAttribute("mesh.tenant", tenant);
    try {
      const reply = await route(req, tenant, (path.exec(url.pathname) ?? []).slice(1));
      return send(res, reply.status, reply.body);
    } catch (error) {
      const e = isMeshError(error)
        ? error
        : new MeshError("INTERNAL", "the gateway failed", { cause: error });
      if (e.retryAfterMs !== undefined)
        res.setHeader("Retry-After", String(Math.max(1, Math.ceil(e.retryAfterMs / 1_000))));
      if (e.status >= 500) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: `${e.code}: ${e.message}` });
        mesh.log.error({ err: e.cause ?? e, code: e.code, path: url.pathname }, "gateway request failed");
      }
      return send(res, e.status, errorBody(e.code, e.message, e.details));
    }
  };

  const server = createServer((req, res) => {
    const requestId = headerValue(req, "x-request-id");
    res.setHeader(
      "X-Request-Id",
      requestId !== undefined && REQUEST_ID.test(requestId) ? requestId : crypto.randomUUID(),
    );
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer.startSpan(
      `${req.method} ${req.url}`,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method ?? "" } },
      parent,
    );
    const sc = span.spanContext();
    if (isSpanContextValid(sc))
      res.setHeader("traceparent", `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`);
    // "close" also fires when the client goes away before the response is done
    res.once("close", () => {
      span.setAttribute("http.response.status_code", res.statusCode);
      span.end();
    });
    context.with(trace.setSpan(parent, span), () => {
      handle(req, res, span).catch((error: unknown) => {
        mesh.log.error({ err: error }, "gateway handler failed");
        if (!res.headersSent) send(res, 500, errorBody("INTERNAL", "the gateway failed"));
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(":") ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `Authorization: Bearer <key>`, or `X-Api-Key: <key>`. */
function apiKeyOf(req: IncomingMessage): string | undefined {
  const auth = headerValue(req, "authorization");
  if (auth?.startsWith("Bearer ")) return auth.slice(7).trim();
  return headerValue(req, "x-api-key")?.trim();
}

function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** The request body as JSON: 413 past `limit`, 400 when it is not JSON. */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new MeshError("PAYLOAD_TOO_LARGE", `the body exceeds ${limit} bytes`, {
        details: { limitBytes: limit },
      });
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new MeshError("INVALID_ARGUMENT", "the body is not JSON");
  }
}
