import { jsonBody, startHttpEdge } from "@switchyard/http";
import { type Mesh, MeshError } from "@switchyard/runtime";
import { ordersContract } from "@switchyard/service-orders";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ApiKeys } from "./api-keys.js";
import { inRequestSpan, markSpanFailed, nameSpan, setSpanAttribute, traceRequest } from "./request-span.js";

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
// a route constraint, so another id is "no such route" (404) as any unknown path is
const ORDER_ID = "(^[A-Za-z0-9_-]{1,64}$)";

/**
 * The HTTP ingress of the example system: authenticates the API key (a request without a valid
 * one gets 401 and never reaches the mesh), calls the mesh for the key's tenant, and maps mesh
 * errors to HTTP statuses (`Retry-After` when the mesh says when to retry).
 */
export function startGateway(options: GatewayOptions): Promise<Gateway> {
  return startHttpEdge(
    {
      name: "gateway",
      log: options.mesh.log,
      port: options.port,
      ...(options.host === undefined ? {} : { host: options.host }),
      bodyLimitBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY,
      onServerError: markSpanFailed,
    },
    (app) => {
      app.addHook("onRequest", echoRequestId);
      app.addHook("onRequest", traceRequest);
      app.get("/healthz", async () => ({ ok: true }));
      app.register(async (routes) => orderRoutes(routes, options));
    },
  );
}

/** The order routes, each for the tenant of the request's API key. */
function orderRoutes(app: FastifyInstance, { mesh, keys }: GatewayOptions): void {
  const orders = mesh.client(ordersContract);
  const tenants = new WeakMap<FastifyRequest, string>();
  const tenantOf = (request: FastifyRequest) => tenants.get(request) as string;
  // onRequest, before the body is read: a request without a valid key costs nothing more
  app.addHook("onRequest", async (request, reply) => {
    nameSpan(request, (request.routeOptions.url ?? "").replace(ORDER_ID, ""));
    const tenant = keys.tenantOf(apiKeyOf(request));
    if (tenant === undefined) {
      reply.header("WWW-Authenticate", 'Bearer realm="switchyard"');
      throw new MeshError("UNAUTHENTICATED", "a valid API key is required (Authorization: Bearer <key>)");
    }
    setSpanAttribute(request, "mesh.tenant", tenant);
    tenants.set(request, tenant);
  });
  app.post("/orders", async (request, reply) => {
    const body = jsonBody(request);
    const order = await inRequestSpan(request, () =>
      orders.create(body as never, { tenant: tenantOf(request) }),
    );
    return reply.code(201).send(order);
  });
  app.get<{ Params: { id: string } }>(`/orders/:id${ORDER_ID}`, (request) =>
    inRequestSpan(request, () => orders.get({ orderId: request.params.id }, { tenant: tenantOf(request) })),
  );
}

/** A sane `X-Request-Id` from the client goes back as it came; otherwise a new one. */
async function echoRequestId(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const given = headerValue(request, "x-request-id");
  reply.header("X-Request-Id", given !== undefined && REQUEST_ID.test(given) ? given : crypto.randomUUID());
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `Authorization: Bearer <key>`, or `X-Api-Key: <key>`. */
function apiKeyOf(request: FastifyRequest): string | undefined {
  const auth = headerValue(request, "authorization");
  if (auth?.startsWith("Bearer ")) return auth.slice(7).trim();
  return headerValue(request, "x-api-key")?.trim();
}
