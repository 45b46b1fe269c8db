import { randomUUID } from "node:crypto";
import { context } from "@opentelemetry/api";
import { logServerError, meshErrorAnswer, meshErrorOf } from "@switchyard/http";
import {
  type Contract,
  connectMesh,
  type HandlerContext,
  type Handlers,
  type Mesh,
  MeshError,
  type ServiceHandle,
} from "@switchyard/runtime";
import { Header } from "@switchyard/schemas";
import {
  type ApiAnswer,
  type ApiRequest,
  type ApiServer,
  type Refusal,
  startApiServer,
} from "./api-server.js";
import { AppClient } from "./app-client.js";
import { readCallHeaders, SidecarHeader } from "./call-headers.js";
import { type LoadedContract, readContractFile } from "./contract-file.js";
import { HealthWatch } from "./health-watch.js";
import { type HandledRequest, InFlightRequests } from "./in-flight.js";
import { endOfTurn } from "./io-turn.js";
import { parseSidecarOptions, type ResolvedSidecarOptions, type SidecarOptionsInput } from "./options.js";
import { SyncContextManager } from "./sync-context.js";
import { activeTraceHeaders, contextOf, traceIdOf } from "./trace-headers.js";

/** A running sidecar, as `startSidecar()` returns it. */
export interface Sidecar {
  /** The service it is on the mesh. */
  readonly name: string;
  /** Its HTTP API: `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** True while it serves the contract on the mesh (the app answers its health route). */
  readonly serving: boolean;
  /** The mesh connection calls go out on now (a new one after the app recovers). */
  readonly mesh: Mesh;
  /** Stops the API, drains the mesh (requests in flight finish), closes. Idempotent. */
  close(): Promise<void>;
}

/**
 * The runtime's request context also holds the token that vouched for its tenant (`ctx.call()`
 * passes it on); `HandlerContext` does not name it, so it is read through this shape, never written.
 */
interface TokenBearer {
  readonly tenantToken?: unknown;
}

/**
 * Starts a sidecar: connects as the service (credentials as any service: `NATS_NKEY`...), follows
 * the policy, starts the loopback HTTP API (`POST /v1/call/{service}/{endpoint}`), and serves the
 * contract's endpoints on the mesh, forwarding each request to the app, while the app answers its
 * health route. Throws `INVALID_ARGUMENT` for bad options or contract file.
 */
export async function startSidecar(input: SidecarOptionsInput): Promise<Sidecar> {
  const options = parseSidecarOptions(input);
  const loaded = options.contractFile === undefined ? undefined : readContractFile(options.contractFile);
  const name = options.name ?? (loaded?.contract.name as string);
  if (loaded !== undefined && loaded.contract.name !== name) {
    throw new MeshError("INVALID_ARGUMENT", `the contract is for ${loaded.contract.name}, not ${name}`);
  }
  installContextManager();
  const sidecar = new RunningSidecar(name, options, loaded, await connect(name, options));
  try {
    await sidecar.start();
  } catch (error) {
    await sidecar.close();
    throw error;
  }
  return sidecar;
}

function connect(name: string, options: ResolvedSidecarOptions): Promise<Mesh> {
  return connectMesh({ ...options.mesh, name });
}

/**
 * The handled request's SERVER span is the active one inside a handler only with a context
 * manager; a sidecar is a process of its own, so it installs one when its SDK has not: a
 * synchronous one, which is all the sidecar needs and costs nothing between calls (see
 * `SyncContextManager`).
 */
function installContextManager(): void {
  const manager = new SyncContextManager();
  if (!context.setGlobalContextManager(manager)) manager.disable();
}

class RunningSidecar implements Sidecar {
  readonly name: string;
  readonly #options: ResolvedSidecarOptions;
  readonly #loaded: LoadedContract | undefined;
  readonly #app: AppClient | undefined;
  readonly #health: HealthWatch | undefined;
  readonly #inFlight = new InFlightRequests();
  #mesh: Mesh;
  #served: ServiceHandle | undefined;
  /** The mesh has served once: serving again takes a new connection (a new instance). */
  #meshUsed = false;
  #api: ApiServer | undefined;
  /** The last serve or unserve step; `#stepping` while one runs. */
  #transitions: Promise<void> = Promise.resolve();
  #stepping = false;
  #closing: Promise<void> | undefined;

  constructor(name: string, options: ResolvedSidecarOptions, loaded: LoadedContract | undefined, mesh: Mesh) {
    this.name = name;
    this.#options = options;
    this.#loaded = loaded;
    this.#mesh = mesh;
    if (loaded !== undefined && options.app !== undefined) {
      const app = new AppClient(options.app, () => void this.#health?.checkNow());
      this.#app = app;
      this.#health = new HealthWatch(
        () => app.healthy(options.healthPath, options.healthTimeoutMs),
        { intervalMs: options.healthIntervalMs, unhealthyAfter: options.unhealthyAfter },
        (ready) => this.#onHealth(ready),
      );
    }
  }

  get url(): string {
    return this.#api === undefined ? "" : `http://127.0.0.1:${this.#api.port}`;
  }

  get serving(): boolean {
    return this.#served !== undefined;
  }

  get mesh(): Mesh {
    return this.#mesh;
  }

  async start(): Promise<void> {
    this.#api = await startApiServer({
      host: "127.0.0.1",
      port: this.#options.port,
      bodyLimitBytes: this.#options.bodyLimitBytes,
      handle: (request) => this.#route(request),
      onError: (error) => this.#errorAnswer(error),
      refusal: (refusal) => this.#refusalAnswer(refusal),
    });
    this.#mesh.log.info({ url: this.url, app: this.#options.app }, "sidecar listening");
    if (this.#health !== undefined) {
      await this.#health.start();
      await this.#transitions;
    }
  }

  /** `GET /v1/health` and `POST /v1/call/{service}/{endpoint}`; anything else is `NOT_FOUND`. */
  #route(request: ApiRequest): ApiAnswer | Promise<ApiAnswer> {
    const { method, path } = request;
    if (method === "POST" && path.startsWith(CALL_PREFIX)) {
      const slash = path.indexOf("/", CALL_PREFIX.length);
      if (slash > CALL_PREFIX.length && slash < path.length - 1 && path.indexOf("/", slash + 1) < 0) {
        const service = pathParam(path.slice(CALL_PREFIX.length, slash));
        const endpoint = pathParam(path.slice(slash + 1));
        return this.#call(service, endpoint, request);
      }
    } else if (method === "GET" && path === "/v1/health") {
      const ready = this.#loaded === undefined || this.serving;
      return json(ready ? 200 : 503, {
        service: this.name,
        serving: this.serving,
        app: this.#health?.ready ?? null,
        instanceId: this.#mesh.instanceId,
        policyVersion: this.#mesh.policyVersion,
      });
    }
    throw new MeshError("NOT_FOUND", `no route for ${method} ${path}`);
  }

  async #call(service: string, endpoint: string, request: ApiRequest): Promise<ApiAnswer> {
    const input = jsonOf(request.body);
    // with the other requests of this turn: their calls go to the broker in one write
    await endOfTurn();
    const output = await this.#callOut(service, endpoint, input, request.headers);
    return { status: 200, body: JSON.stringify(output ?? null) };
  }

  /** A throw as the HTTP edge answers it: the MeshError's status and body, a 5xx logged. */
  #errorAnswer(thrown: unknown): ApiAnswer {
    const error = meshErrorOf(thrown, "the sidecar failed", this.#options.bodyLimitBytes);
    if (error.status >= 500) logServerError(this.#mesh.log, "sidecar", error, "/v1");
    return answerOf(error, error.status);
  }

  /** A request the API server could not read: its status, the edge's error body. */
  #refusalAnswer(refusal: Refusal): ApiAnswer {
    const error =
      refusal.status === 413
        ? meshErrorOf({ statusCode: 413 }, "", this.#options.bodyLimitBytes)
        : new MeshError("INVALID_ARGUMENT", refusal.message);
    return answerOf(error, refusal.status);
  }

  /**
   * A call the app makes: within a request it is handling (named by `Mesh-Request-Id` or its
   * trace) as the runtime's `ctx.call()`, inheriting tenant and token, deadline, cancellation
   * and trace; otherwise as `mesh.call()`, a child of the app's `traceparent`.
   */
  #callOut(service: string, endpoint: string, input: unknown, headers: ApiRequest["headers"]) {
    const h = readCallHeaders(headers);
    const parent = this.#inFlight.find(h.requestId, traceIdOf(h.trace["traceparent"]));
    if (h.tenantToken !== undefined && (parent === undefined || tokenOf(parent.ctx) !== h.tenantToken)) {
      throw new MeshError(
        "INVALID_ARGUMENT",
        "Mesh-Tenant-Token is passed on only within the request that brought it: send that request's Mesh-Request-Id or traceparent with it",
      );
    }
    if (parent !== undefined) return parent.ctx.call(service, endpoint, input, h.options);
    const mesh = this.#mesh;
    return context.with(contextOf(h.trace), () => mesh.call(service, endpoint, input, h.options));
  }

  /** Serves while the app is ready, not while it is not; one step at a time. */
  #onHealth(ready: boolean): void {
    // a step under way is not doubled: the next verdict sees where it ended
    if (ready === this.serving || this.#stepping) return;
    this.#stepping = true;
    this.#transitions = this.#transitions
      .then(() => (ready ? this.#serve() : this.#unserve()))
      .finally(() => {
        this.#stepping = false;
      });
  }

  async #serve(): Promise<void> {
    const loaded = this.#loaded;
    if (loaded === undefined || this.#served !== undefined || this.#closing !== undefined) return;
    try {
      if (this.#meshUsed) {
        // a stopped instance cannot serve again: the recovered app is a new instance on a new connection
        const previous = this.#mesh;
        this.#mesh = await connect(this.name, this.#options);
        this.#meshUsed = false;
        void previous.close();
      }
      this.#served = await this.#mesh.serve(loaded.contract, this.#handlers(loaded));
      this.#meshUsed = true;
      this.#mesh.log.info(
        { service: this.name, instanceId: this.#mesh.instanceId },
        "the app is ready: serving",
      );
    } catch (error) {
      this.#mesh.log.error({ err: error }, "cannot serve the contract");
    }
  }

  async #unserve(): Promise<void> {
    const served = this.#served;
    if (served === undefined) return;
    this.#served = undefined;
    this.#mesh.log.warn(
      { service: this.name, app: this.#options.app },
      "the app does not answer its health route: not serving",
    );
    // leaves the queue group and discovery; requests in flight finish (or fail: the app is gone)
    await served.stop();
  }

  #handlers(loaded: LoadedContract): Handlers<Contract> {
    const handlers: Record<string, (input: unknown, ctx: HandlerContext) => Promise<unknown>> = {};
    for (const [endpoint, path] of loaded.paths) {
      handlers[endpoint] = (input, ctx) => this.#forward(path, input, ctx);
    }
    return handlers as Handlers<Contract>;
  }

  /** A mesh request, past the server pipeline (deadline, access, quota, limit, validation), to the app. */
  async #forward(path: string, input: unknown, ctx: HandlerContext): Promise<unknown> {
    const app = this.#app as AppClient;
    const trace = activeTraceHeaders();
    const handled: HandledRequest = { id: randomUUID(), traceId: traceIdOf(trace["traceparent"]), ctx };
    const headers: Record<string, string> = {
      ...trace,
      [SidecarHeader.RequestId]: handled.id,
      [Header.Timeout]: String(ctx.remainingMs()),
      [SidecarHeader.Deadline]: String(Math.round(ctx.deadline)),
      [Header.Attempt]: String(ctx.attempt),
    };
    if (ctx.tenant !== undefined) {
      headers[Header.Tenant] = ctx.tenant;
      headers[SidecarHeader.TenantVerified] = String(ctx.tenantVerified);
      const token = tokenOf(ctx);
      if (token !== undefined) headers[Header.TenantToken] = token;
    }
    if (ctx.caller !== undefined) headers[Header.Caller] = ctx.caller;
    if (ctx.idempotencyKey !== undefined) headers[Header.IdempotencyKey] = ctx.idempotencyKey;
    this.#inFlight.add(handled);
    try {
      return await app.post(path, input, headers, ctx.signal, `${ctx.service}.${ctx.endpoint}`);
    } finally {
      this.#inFlight.delete(handled);
      // the reply waits for the other answers of this turn: they go to the broker in one write
      await endOfTurn();
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#health?.stop();
    await this.#transitions;
    // the API first, so no call arrives at a draining mesh
    await this.#api?.close();
    await this.#mesh.close();
    this.#app?.close();
  }
}

const CALL_PREFIX = "/v1/call/";

/** A path segment, percent-decoded; a malformed escape is `INVALID_ARGUMENT`. */
function pathParam(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new MeshError("INVALID_ARGUMENT", `the path segment ${segment} is not percent-encoded text`);
  }
}

/** A call's body: JSON, whatever its content type says (clients of the mesh do not always say). */
function jsonOf(body: Buffer): unknown {
  try {
    if (body.length > 0) return JSON.parse(body.toString("utf8"));
  } catch {
    // answered below
  }
  throw new MeshError("INVALID_ARGUMENT", "the body is not JSON");
}

function json(status: number, body: unknown): ApiAnswer {
  return { status, body: JSON.stringify(body) };
}

function answerOf(error: MeshError, status: number): ApiAnswer {
  const answer = meshErrorAnswer(error, status);
  return answer.retryAfter === undefined
    ? { status: answer.status, body: answer.body }
    : { status: answer.status, headers: { "retry-after": answer.retryAfter }, body: answer.body };
}

/** The tenant token that vouched for the handled request's tenant, if one did. */
function tokenOf(ctx: HandlerContext): string | undefined {
  const token = (ctx as TokenBearer).tenantToken;
  return typeof token === "string" ? token : undefined;
}
