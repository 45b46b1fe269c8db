import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { MeshError } from "@switchyard/runtime";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { logServerError, meshErrorOf, sendMeshError } from "./error-reply.js";

export interface HttpEdgeOptions {
  /** Who answers, for messages such as "the gateway failed". */
  readonly name: string;
  /** The process's pino logger; 5xx answers are logged on it with their cause. */
  readonly log: FastifyBaseLogger;
  readonly port: number;
  /** Default loopback; a container listens on 0.0.0.0 (or `::`). */
  readonly host?: string;
  /** Largest request body, in bytes (413 `PAYLOAD_TOO_LARGE` above it). */
  readonly bodyLimitBytes: number;
  /** Hears every 5xx answer, after it is logged (a span to mark failed, say). */
  readonly onServerError?: (error: MeshError, request: FastifyRequest) => void;
}

export interface HttpEdge {
  /** `http://host:port`, an IPv6 host in brackets. */
  readonly url: string;
  /**
   * Stops taking requests, lets those in flight finish, ends idle keep-alive connections and
   * open event streams, then resolves.
   */
  close(): Promise<void>;
}

/**
 * A Fastify server with the mesh's conventions: JSON bodies whatever their content type, every
 * error answered as a MeshError, no per-request log lines. `routes` adds the routes and hooks;
 * then it listens.
 */
export async function startHttpEdge(
  options: HttpEdgeOptions,
  routes: (app: FastifyInstance) => void,
): Promise<HttpEdge> {
  const answerError = errorAnswer(options);
  const app = Fastify({
    loggerInstance: options.log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    forceCloseConnections: "idle",
    // a route answers the methods it declares: a GET stream must not also answer HEAD
    exposeHeadRoutes: false,
    // a malformed URL is refused before routing; answer it like any other error
    frameworkErrors: answerError,
  });
  acceptJsonBodies(app);
  app.setErrorHandler(answerError);
  app.setNotFoundHandler((request, reply) =>
    sendMeshError(reply, new MeshError("NOT_FOUND", `no route for ${request.method} ${pathOf(request)}`)),
  );
  endKeepAliveOnClose(app);
  routes(app);
  await app.listen({
    port: options.port,
    host: options.host ?? "127.0.0.1",
    listenTextResolver: (address) => `${options.name} HTTP listening at ${address}`,
  });
  return { url: urlOf(app.server.address() as AddressInfo), close: () => app.close() };
}

/** The body of a request that must have one; `INVALID_ARGUMENT` when it has none. */
export function jsonBody(request: FastifyRequest): unknown {
  if (request.body === undefined) throw new MeshError("INVALID_ARGUMENT", "the body is not JSON");
  return request.body;
}

// Clients of the mesh send JSON without always saying so (curl's default is a form type).
function acceptJsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_request, text, done) => {
    try {
      done(null, JSON.parse(text as string));
    } catch {
      done(new MeshError("INVALID_ARGUMENT", "the body is not JSON"), undefined);
    }
  });
}

/** The one error handler: log a 5xx with its cause, then answer with the MeshError. */
function errorAnswer(options: HttpEdgeOptions) {
  return (thrown: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const error = meshErrorOf(thrown, `the ${options.name} failed`, options.bodyLimitBytes);
    if (error.status >= 500) {
      logServerError(request.log, options.name, error, pathOf(request));
      options.onServerError?.(error, request);
    }
    return sendMeshError(reply, error);
  };
}

/**
 * Once closing, a keep-alive connection ends with the request it carries: otherwise it would
 * hold the close until the client's idle timeout. Once no request is in flight, every connection
 * left is cut: one that has not sent a whole request (a browser's preconnect, a client that went
 * quiet) is not idle to Node and would hold the close until the headers timeout, 60 s or more.
 */
function endKeepAliveOnClose(app: FastifyInstance): void {
  let closing = false;
  let inFlight = 0;
  const cutUnused = () => {
    if (closing && inFlight === 0) app.server.closeAllConnections();
  };
  app.server.on("request", (_request: IncomingMessage, response: ServerResponse) => {
    inFlight++;
    // "close" also when the client went away before the answer
    response.once("close", () => {
      inFlight--;
      // after the response's own socket work is done
      if (closing) setImmediate(cutUnused);
    });
  });
  app.addHook("preClose", async () => {
    closing = true;
    // fastify stops listening right after the preClose hooks: cut what is left after that
    setImmediate(cutUnused);
  });
  app.addHook("onSend", async (_request, reply) => {
    if (closing) reply.header("Connection", "close");
  });
}

function pathOf(request: FastifyRequest): string {
  return request.url.split("?")[0] ?? request.url;
}

function urlOf({ address, port }: AddressInfo): string {
  return `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
}
