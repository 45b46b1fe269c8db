import { errors, type NatsConnection } from "@nats-io/nats-core";
import {
  type Contract,
  cancelSubject,
  type EndpointSpec,
  endpointSubject,
  isServiceName,
  MetadataKey,
} from "@switchyard/schemas";
import type { Logger } from "pino";
import { BoundedCache } from "./bounded-cache.js";
import { CallPipeline, type CallTarget, type ParentRequest } from "./client/call-pipeline.js";
import { Requester } from "./client/requester.js";
import { type ContractClient, contractTargets, makeClient } from "./client/typed-client.js";
import { openConnection } from "./connection.js";
import { DedupeStore } from "./dedupe/dedupe-store.js";
import { EndpointCounters } from "./discovery/responder.js";
import { MeshError } from "./errors.js";
import { TenantSigner } from "./identity/tenant-signer.js";
import {
  type CallOptionsInput,
  DEFAULT_DEDUPE_TTL_MS,
  type MeshOptionsInput,
  parseCallOptions,
  parseMeshOptions,
  type ResolvedMeshOptions,
} from "./options.js";
import { PolicyView } from "./policy/policy-view.js";
import { declaredBy, SettingsCache } from "./policy/settings-cache.js";
import { InstanceCount } from "./quota/instance-count.js";
import { QuotaGate } from "./quota/quota-gate.js";
import { QuotaStore } from "./quota/quota-store.js";
import { AttemptRouter } from "./routing/attempt-router.js";
import { Balancer } from "./routing/balancer.js";
import { Membership } from "./routing/membership.js";
import { EndpointLimit } from "./server/endpoint-limit.js";
import type { Handler, PipelineHost, ServedEndpoint } from "./server/request-pipeline.js";
import { type ServiceHandle, ServiceInstance } from "./server/service.js";
import { shortId } from "./short-id.js";
import { createLogger } from "./telemetry/logger.js";
import { RepeatedLines } from "./telemetry/repeated-lines.js";
import { MeshTelemetry } from "./telemetry/telemetry.js";
import { RUNTIME_VERSION } from "./version.js";

/** A handler for every endpoint of a contract. */
export type Handlers<C extends Contract> = {
  readonly [K in keyof C["endpoints"]]: Handler<C["endpoints"][K]>;
};

/** Targets of untyped calls: keyed by names the application passes, so bounded. */
const MAX_CACHED_TARGETS = 10_000;

/**
 * A process's place in the mesh: one NATS connection, the services it serves and the calls it
 * makes. Made by `connectMesh()`; `close()` drains it.
 */
export class Mesh {
  /** This process's service name. */
  readonly name: string;
  /** Unique per process and connection: the instance id in discovery and policy reports. */
  readonly instanceId: string;
  readonly options: ResolvedMeshOptions;
  readonly log: Logger;
  readonly #nc: NatsConnection;
  readonly #requester: Requester;
  readonly #policy: PolicyView;
  readonly #pipeline: CallPipeline;
  readonly #host: PipelineHost;
  readonly #instances: InstanceCount;
  readonly #membership: Membership;
  readonly #telemetry: MeshTelemetry;
  readonly #quota: QuotaGate;
  #quotaStore: QuotaStore | undefined;
  #dedupeStore: DedupeStore | undefined;
  readonly #services = new Map<string, ServiceInstance>();
  readonly #targets = new BoundedCache<string, CallTarget>(MAX_CACHED_TARGETS);
  readonly #contractTargets = new WeakMap<Contract, Map<string, CallTarget>>();
  #closing: Promise<void> | undefined;

  /** @internal use `connectMesh()` */
  constructor(nc: NatsConnection, options: ResolvedMeshOptions, log: Logger) {
    this.name = options.name;
    this.instanceId = shortId();
    this.options = options;
    this.log = log;
    this.#nc = nc;
    this.#requester = new Requester(nc, options.inboxPrefix);
    this.#policy = new PolicyView(nc, options, log, this.instanceId);
    const policy = () => this.#policy.current;
    this.#membership = new Membership(nc);
    this.#telemetry = new MeshTelemetry(options.telemetry, {
      breakers: () => this.#pipeline.breakerStates(),
      policyVersion: () => this.policyVersion,
    });
    this.#pipeline = new CallPipeline(
      this.#requester,
      options.name,
      policy,
      log,
      this.#telemetry,
      (service, cancel) => {
        try {
          nc.publish(cancelSubject(options.prefix, service), JSON.stringify(cancel));
          // push it out now: the callee is doing work for nobody until it arrives
          nc.flush().catch(() => undefined);
        } catch {
          // best effort: the callee's own deadline still ends the work
        }
      },
      new TenantSigner(options.name, options.auth, log),
      new AttemptRouter(
        new Balancer(options.prefix, this.#membership),
        this.#telemetry,
        log,
        () => this.vouchesIdentity,
      ),
    );
    this.#instances = new InstanceCount(nc);
    this.#quota = new QuotaGate(() => this.#store(), this.#instances);
    // connect to Redis as soon as the policy has quotas, not on the first request that needs it
    this.#policy.onApplied((applied) => {
      if (!applied.quotas.empty && this.#services.size > 0) this.#store();
    });
    this.#host = {
      log,
      policy,
      telemetry: this.#telemetry,
      repeatedLines: new RepeatedLines(),
      dedupe: () => {
        const store = this.#store();
        if (store !== undefined) this.#dedupeStore ??= new DedupeStore(store);
        return this.#dedupeStore;
      },
      admitQuota: (rules, service, endpoint, tenant) => this.#quota.admit(rules, service, endpoint, tenant),
      maxPayload: () => nc.info?.max_payload ?? 1024 * 1024,
      // a broker that authenticates runs an account per identity (`switchyard authz render`)
      vouchesIdentity: () => this.vouchesIdentity,
      callFrom: (parent, service, endpoint, input, opts) =>
        this.#call(service, endpoint, input, opts, parent),
      clientFrom: (parent, contract) => this.#client(contract, parent),
    };
    void this.#watchStatus();
    void nc.closed().then(() => this.#requester.closed());
  }

  /**
   * Whether the broker vouches who sent each request: it requires authentication, so it runs an
   * account per identity (`switchyard authz render`) and writes `Nats-Request-Info`. Callees then
   * take the caller from that header; without it, `Mesh-Caller` is only asserted.
   */
  get vouchesIdentity(): boolean {
    return this.#nc.info?.auth_required === true;
  }

  /** The version of the mesh policy this process runs (0 before any). */
  get policyVersion(): number {
    return this.#policy.current.version;
  }

  /**
   * The underlying NATS connection, for control-plane tools (JetStream, discovery). Publishing on
   * mesh subjects through it bypasses the runtime's deadlines, retries and error mapping.
   */
  get connection(): NatsConnection {
    return this.#nc;
  }

  /** Reads the policy and starts following it; `connectMesh()` does this, a second call nothing. */
  async start(): Promise<void> {
    // the broker answers a refused inbox SUB before the PONG of this flush
    await this.#nc.flush();
    if (this.#requester.refusal !== undefined) {
      throw new MeshError(
        "PERMISSION_DENIED",
        `this identity may not receive replies on ${this.options.inboxPrefix}: connect as ${this.name} with its own credentials`,
        { cause: this.#requester.refusal },
      );
    }
    if (this.options.policy.follow) await this.#policy.start();
  }

  /**
   * Serves a contract's endpoints in queue group `<contract.name>`. Resolves once the server has
   * the subscription. Throws `INVALID_ARGUMENT` when a handler is missing or extra, and
   * `PERMISSION_DENIED` when the broker does not let this identity serve the contract.
   */
  async serve<C extends Contract>(contract: C, handlers: Handlers<C>): Promise<ServiceHandle> {
    if (this.#closing) throw new MeshError("UNAVAILABLE", "the mesh is closing");
    if (this.#services.has(contract.name)) {
      throw new MeshError("INVALID_ARGUMENT", `${contract.name} is already served by this mesh`);
    }
    const endpoints = this.#servedEndpoints(contract, handlers as Readonly<Record<string, unknown>>);
    const service = this.#newInstance(contract, endpoints);
    this.#services.set(contract.name, service);
    await this.#confirmServing(contract, service);
    this.log.info({ service: contract.name, version: contract.version }, "serving");
    return service;
  }

  /** Step 1 of `serve()`: every endpoint paired with its handler, none missing and none extra. */
  #servedEndpoints(
    contract: Contract,
    handlers: Readonly<Record<string, unknown>>,
  ): Map<string, ServedEndpoint> {
    const endpoints = new Map<string, ServedEndpoint>();
    for (const [name, spec] of Object.entries(contract.endpoints)) {
      const handler = handlers[name];
      if (typeof handler !== "function") {
        throw new MeshError("INVALID_ARGUMENT", `no handler for ${contract.name}.${name}`);
      }
      endpoints.set(name, this.#servedEndpoint(contract.name, name, spec, handler as Handler));
    }
    const extra = Object.keys(handlers).filter((k) => !endpoints.has(k));
    if (extra.length > 0) {
      throw new MeshError("INVALID_ARGUMENT", `handlers for unknown endpoints: ${extra.join(", ")}`);
    }
    return endpoints;
  }

  #servedEndpoint(service: string, endpoint: string, spec: EndpointSpec, handler: Handler): ServedEndpoint {
    return {
      service,
      endpoint,
      subject: endpointSubject(this.options.prefix, service, endpoint),
      counters: new EndpointCounters(),
      spec,
      handler,
      settings: new SettingsCache(service, endpoint, declaredBy(spec)),
      maxTimeoutMs: this.options.maxServeTimeoutMs,
      limit: new EndpointLimit(),
      dedupeTtlMs:
        spec.dedupe === undefined || spec.dedupe === false
          ? undefined
          : spec.dedupe === true
            ? DEFAULT_DEDUPE_TTL_MS
            : spec.dedupe.ttlMs,
    };
  }

  /** Step 2 of `serve()`: the instance, subscribed, with what discovery reports about it. */
  #newInstance(contract: Contract, endpoints: Map<string, ServedEndpoint>): ServiceInstance {
    return new ServiceInstance({
      nc: this.#nc,
      prefix: this.options.prefix,
      contract,
      endpoints,
      host: this.#host,
      drainTimeoutMs: this.options.drainTimeoutMs,
      instanceId: this.instanceId,
      statsData: (endpoint) => {
        const quota = this.#quota.counters(contract.name, endpoint);
        const limit = endpoints.get(endpoint)?.limit.current;
        return {
          ...(quota === undefined ? {} : { quota }),
          ...(limit === undefined ? {} : { concurrency: { limit: limit.limit, inFlight: limit.inFlight } }),
        };
      },
      metadata: () => ({
        [MetadataKey.Runtime]: RUNTIME_VERSION,
        [MetadataKey.PolicyVersion]: String(this.policyVersion),
        [MetadataKey.Caller]: this.name,
      }),
      calls: () => this.#pipeline.callStats(),
    });
  }

  /** Step 3 of `serve()`: the broker took the subscription, or the instance is undone. */
  async #confirmServing(contract: Contract, service: ServiceInstance): Promise<void> {
    // the broker answers a refused SUB before the PONG of this flush
    await this.#nc.flush();
    if (service.refusal === undefined) return;
    this.#services.delete(contract.name);
    await service.stop();
    throw new MeshError(
      "PERMISSION_DENIED",
      `this identity may not serve ${contract.name}: ${service.refusal.message}`,
      { cause: service.refusal },
    );
  }

  /**
   * Calls `service.endpoint` and resolves with the decoded reply. Given the service's contract
   * rather than its name, the call honours what the contract declares (`idempotent`, `timeoutMs`)
   * as `client()` does. Rejects with a `MeshError`: the callee's code, or DEADLINE_EXCEEDED,
   * NO_RESPONDERS, UNAVAILABLE, CANCELLED...
   */
  call(
    service: string | Contract,
    endpoint: string,
    input?: unknown,
    options?: CallOptionsInput,
  ): Promise<unknown> {
    return this.#call(service, endpoint, input, options, undefined);
  }

  /** A typed client for a contract; its methods call like `call()`. */
  client<C extends Contract>(contract: C): ContractClient<C> {
    return this.#client(contract, undefined);
  }

  /**
   * Drains: stops taking requests, lets those in flight and the calls this process is making
   * (those waiting to retry included) finish, each bounded by `drainTimeoutMs`; waits for handlers
   * that overran it until their deadlines (then abandons them, with a log line); then closes Redis
   * and the connection. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
  }

  #call(
    service: string | Contract,
    endpoint: string,
    input: unknown,
    options: CallOptionsInput | undefined,
    parent: ParentRequest | undefined,
  ): Promise<unknown> {
    try {
      const target =
        typeof service === "string"
          ? this.#target(service, endpoint)
          : this.#contractTarget(service, endpoint);
      return this.#invoke(target, input, options, parent);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #client<C extends Contract>(contract: C, parent: ParentRequest | undefined): ContractClient<C> {
    return makeClient<C>(this.#targetsOf(contract), (target, input, options) =>
      this.#invoke(target, input, options, parent),
    );
  }

  /** Every call, typed or not, goes out here: one path from options to the pipeline. */
  #invoke(
    target: CallTarget,
    input: unknown,
    options: CallOptionsInput | undefined,
    parent: ParentRequest | undefined,
  ): Promise<unknown> {
    try {
      return this.#pipeline.call(target, input, parseCallOptions(options), parent);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A contract's targets, resolved once per contract object (what `client()` calls through). */
  #targetsOf(contract: Contract): Map<string, CallTarget> {
    let targets = this.#contractTargets.get(contract);
    if (targets === undefined) {
      targets = contractTargets(contract, this.options.prefix);
      this.#contractTargets.set(contract, targets);
    }
    return targets;
  }

  #contractTarget(contract: Contract, endpoint: string): CallTarget {
    const target = this.#targetsOf(contract).get(endpoint);
    if (target === undefined) {
      throw new MeshError("INVALID_ARGUMENT", `${contract.name} has no endpoint ${endpoint}`);
    }
    return target;
  }

  /** The Redis quota store, connected on first need; none without `redis.url`/`REDIS_URL`. */
  #store(): QuotaStore | undefined {
    const redis = this.options.redis;
    if (
      this.#quotaStore === undefined &&
      !this.#closing &&
      (redis.url !== undefined || redis.clusterNodes !== undefined)
    ) {
      this.#quotaStore = new QuotaStore(redis, this.log);
    }
    return this.#quotaStore;
  }

  #target(service: string, endpoint: string): CallTarget {
    const key = `${service}.${endpoint}`;
    let target = this.#targets.get(key);
    if (target === undefined) {
      if (!isServiceName(service) || !isServiceName(endpoint)) {
        throw new MeshError("INVALID_ARGUMENT", `not a valid service/endpoint name: ${key}`);
      }
      target = {
        service,
        endpoint,
        subject: endpointSubject(this.options.prefix, service, endpoint),
        settings: new SettingsCache(service, endpoint, { timeoutMs: undefined, idempotent: undefined }),
      };
      this.#targets.set(key, target);
    }
    return target;
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.#nc.status()) {
      switch (status.type) {
        case "disconnect":
          this.#requester.disconnected();
          this.log.warn({ server: status.server }, "disconnected from NATS");
          break;
        case "reconnect":
          this.#requester.resumed();
          this.log.info({ server: status.server }, "reconnected to NATS");
          // a push may have been missed while away: KV has the truth
          void this.#policy.refresh();
          break;
        case "error":
          if (status.error instanceof errors.PermissionViolationError) {
            // the broker enforces the access rules: a refused request fails at once
            if (status.error.operation === "publish") this.#requester.refused(status.error.subject);
            this.log.warn(
              { subject: status.error.subject, operation: status.error.operation },
              "NATS refused: permissions violation",
            );
          } else {
            this.log.error({ err: status.error }, "NATS connection error");
          }
          break;
        default:
          break;
      }
    }
  }

  async #drain(): Promise<void> {
    this.log.info("draining");
    await Promise.all([...this.#services.values()].map((s) => s.stop()));
    // calls in a retry back-off or waiting for a reconnect count as much as requests on the wire
    const until = Date.now() + this.options.drainTimeoutMs;
    while ((this.#pipeline.active > 0 || this.#requester.size > 0) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (this.#pipeline.active > 0) {
      // not dropped: each settles by its deadline, as UNAVAILABLE once the connection has closed
      this.log.warn({ calls: this.#pipeline.active }, "drain timed out with calls still in progress");
    }
    // handlers that overran the drain still use Redis: it closes once they end or are abandoned
    await Promise.all([...this.#services.values()].map((s) => s.overrun()));
    this.#policy.stop();
    this.#instances.stop();
    this.#membership.stop();
    this.#telemetry.close();
    await this.#quotaStore?.close();
    try {
      if (!this.#nc.isClosed()) await this.#nc.drain();
    } catch (error) {
      this.log.warn({ err: error }, "connection drain failed");
      await this.#nc.close();
    }
    this.log.info("closed");
  }
}

/**
 * Connects a process to the mesh. Options are validated once (`INVALID_ARGUMENT` listing every
 * problem); an unreachable NATS is `UNAVAILABLE`, refused credentials `UNAUTHENTICATED`.
 */
export async function connectMesh(options: MeshOptionsInput): Promise<Mesh> {
  const resolved = parseMeshOptions(options);
  const log = resolved.logger ?? createLogger(resolved.name, resolved.logLevel);
  const nc = await openConnection(resolved);
  const mesh = new Mesh(nc, resolved, log);
  try {
    await mesh.start();
  } catch (error) {
    await mesh.close();
    throw error;
  }
  return mesh;
}
