import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  type Contract,
  cancelSubject,
  instanceSubject,
  majorOf,
  queueGroup,
  serviceSubjects,
  versionQueueGroup,
  versionSubject,
} from "@switchyard/schemas";
import type { Logger } from "pino";
import { answerDiscovery, type DiscoverySource } from "../discovery/responder.js";
import { MeshError } from "../errors.js";
import { monotonicNow } from "../resilience/clock.js";
import { SlotTable } from "../resilience/slot-table.js";
import { subjectEndsAt } from "../wire/raw-headers.js";
import { cancelKeyOf } from "./cancel-key.js";
import { refuseRequest } from "./request-outcome.js";
import { serveRequest } from "./request-pipeline.js";
import type { PipelineHost, ServedEndpoint } from "./served-endpoint.js";
import type { InFlight, ServedRequest } from "./served-request.js";

// after its deadline a handler that heeds its abort signal needs a moment to return
const ABANDON_GRACE_MS = 250;

/** A running service instance, as `serve()` returns it. */
export interface ServiceHandle {
  readonly name: string;
  readonly version: string;
  /** Stops taking requests, lets those in flight finish (bounded by `drainTimeoutMs`). */
  stop(): Promise<void>;
}

/** What a `ServiceInstance` serves, where, and what its discovery replies tell besides counters. */
export interface ServiceInstanceOptions {
  readonly nc: NatsConnection;
  /** Subject prefix of the mesh (`mesh`). */
  readonly prefix: string;
  readonly contract: Contract;
  /** By endpoint name. */
  readonly endpoints: ReadonlyMap<string, ServedEndpoint>;
  readonly host: PipelineHost;
  /** How long `stop()` waits for requests in flight. */
  readonly drainTimeoutMs: number;
  /** This instance's id in `$SRV` replies. */
  readonly instanceId: string;
  /** Extra `$SRV.STATS` data of one endpoint (quota decisions, concurrency). */
  statsData(endpoint: string): unknown;
  /** `$SRV` metadata: runtime and policy versions. */
  metadata(): Record<string, string>;
  /** What this process's callers see of the endpoints they call. */
  calls: DiscoverySource["calls"];
}

/**
 * One contract served on one connection: a subscription on `<prefix>.svc.<name>.>` in queue group
 * `<name>`, so NATS hands each request to one instance and an unknown endpoint under the service
 * still reaches us and gets NOT_FOUND instead of a timeout; the same on `<prefix>.ver.<name>.<major>.>`
 * in queue group `<name>@<major>` (routes pick a version) and on `<prefix>.inst.<name>.<id>.>` alone
 * (a caller picks this instance). All three feed the one pipeline (docs/PROTOCOL.md §2).
 */
export class ServiceInstance implements ServiceHandle {
  readonly name: string;
  readonly version: string;
  readonly #endpoints: ReadonlyMap<string, ServedEndpoint>;
  // the same, for a scan by name: a service has a few endpoints
  readonly #endpointList: readonly [string, ServedEndpoint][];
  readonly #host: PipelineHost;
  readonly #log: Logger;
  readonly #drainTimeoutMs: number;
  readonly #subs: Subscription[];
  readonly #discovery: Subscription[];
  readonly #cancels: Subscription;
  readonly #requests: InFlight = new SlotTable<ServedRequest>();
  #inFlight = 0;
  /** Set when the broker refused a subscription: this identity may not serve the service. */
  refusal: Error | undefined;
  readonly #idle = new Set<() => void>();
  #stopping: Promise<void> | undefined;

  constructor(o: ServiceInstanceOptions) {
    const { nc, prefix, contract } = o;
    this.name = contract.name;
    this.version = contract.version;
    this.#endpoints = o.endpoints;
    this.#endpointList = [...o.endpoints];
    this.#host = o.host;
    this.#log = o.host.log;
    this.#drainTimeoutMs = o.drainTimeoutMs;
    const { name } = contract;
    const major = majorOf(contract.version);
    const listen = (wildcard: string, queue: string | undefined) => {
      // what follows the wildcard's `>` is the endpoint name
      const endpointAt = wildcard.length - 1;
      return nc.subscribe(wildcard, {
        ...(queue === undefined ? {} : { queue }),
        callback: (err, msg) => {
          if (err) this.refusal ??= err;
          else this.#onRequest(msg, this.#endpointOf(msg, endpointAt));
        },
      });
    };
    this.#subs = [
      listen(serviceSubjects(prefix, name), queueGroup(name)),
      listen(versionSubject(prefix, name, major, ">"), versionQueueGroup(name, major)),
      listen(instanceSubject(prefix, name, o.instanceId, ">"), undefined),
    ];
    // a caller that gave up says so to every instance; the one handling it aborts ctx.signal
    this.#cancels = nc.subscribe(cancelSubject(prefix, contract.name), {
      callback: (err, msg) => {
        if (err) this.refusal ??= err;
        else this.#onCancel(msg);
      },
    });
    this.#discovery = answerDiscovery(nc, discoverySource(o), o.instanceId, o.host.log);
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * The endpoint a request's subject names after its first `from` characters (ASCII: prefix,
   * service name and instance id are). Compared on nats.js's raw subject bytes: decoding the
   * subject (a native call, run cold at one request in flight) cost more than the comparison.
   */
  #endpointOf(msg: Msg, from: number): ServedEndpoint | undefined {
    for (const [name, endpoint] of this.#endpointList) {
      const match = subjectEndsAt(msg, from, name);
      if (match === undefined) return this.#endpoints.get(msg.subject.slice(from));
      if (match) return endpoint;
    }
    return undefined;
  }

  #onRequest(msg: Msg, endpoint: ServedEndpoint | undefined): void {
    if (!msg.reply) {
      // a publish without a reply subject cannot be answered; say so rather than drop it unseen
      this.#log.warn({ subject: msg.subject }, "request without a reply subject ignored");
      return;
    }
    if (endpoint === undefined) {
      refuseRequest(
        msg,
        new MeshError("NOT_FOUND", `${this.name} has no endpoint at ${msg.subject}`, {
          details: { endpoints: [...this.#endpoints.keys()] },
        }),
        this.#log,
        this.#host.maxPayload(),
      );
      return;
    }
    this.#inFlight++;
    let pending: Promise<void> | undefined;
    try {
      pending = serveRequest(msg, endpoint, this.#host, this.#requests);
    } finally {
      if (pending === undefined) this.#ended();
    }
    pending?.then(this.#ended, this.#ended);
  }

  #onCancel(msg: Msg): void {
    const key = cancelKeyOf(msg, this.#host.vouchesIdentity());
    // every request in flight under the key (a caller reusing its Idempotency-Key may have two)
    if (key === undefined) return;
    this.#requests.forEach((r) => {
      if (r.cancelKey === key) r.ctx?.cancel();
    });
  }

  /** A request was answered (or given up on at its deadline) and its handler has ended. */
  readonly #ended = (): void => {
    this.#inFlight--;
    if (this.#inFlight === 0) for (const resolve of [...this.#idle]) resolve();
  };

  stop(): Promise<void> {
    this.#stopping ??= this.#drain();
    return this.#stopping;
  }

  async #drain(): Promise<void> {
    // a draining instance no longer advertises itself
    for (const sub of this.#discovery) sub.unsubscribe();
    // drain() unsubscribes, then delivers what the server had already sent us
    await Promise.all(
      this.#subs.map((sub) =>
        sub.drain().catch((error: unknown) => {
          this.#log.warn(
            { err: error, service: this.name, subject: sub.getSubject() },
            "subscription drain failed",
          );
        }),
      ),
    );
    if (!(await this.#whenIdle(this.#drainTimeoutMs))) {
      this.#log.warn(
        { service: this.name, inFlight: this.#inFlight },
        "drain timed out with requests still in flight",
      );
    }
    this.#cancels.unsubscribe();
  }

  /**
   * After `stop()`: waits for handlers that overran the drain timeout, until they end or the
   * latest of their deadlines has passed; the rest are abandoned, with a log line. What they use
   * (Redis, the connection) stays open until this resolves.
   */
  async overrun(): Promise<void> {
    let latest = monotonicNow();
    this.#requests.forEach((r) => {
      if (Number.isFinite(r.deadlineAt)) latest = Math.max(latest, r.deadlineAt);
    });
    if (await this.#whenIdle(latest - monotonicNow() + ABANDON_GRACE_MS)) return;
    this.#log.warn(
      { service: this.name, handlers: this.#inFlight },
      "abandoning handlers still running past their deadline",
    );
  }

  /** True once nothing is in flight, false if `timeoutMs` passes first. */
  async #whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    let resolveIdle: (() => void) | undefined;
    const idle = new Promise<boolean>((resolve) => {
      resolveIdle = () => resolve(true);
      this.#idle.add(resolveIdle);
    });
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
    });
    try {
      return await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
      if (resolveIdle !== undefined) this.#idle.delete(resolveIdle);
    }
  }
}

function discoverySource(o: ServiceInstanceOptions): DiscoverySource {
  const { contract } = o;
  return {
    name: contract.name,
    version: contract.version,
    description: contract.description ?? "",
    queueGroup: queueGroup(contract.name),
    started: new Date(),
    endpoints: [...o.endpoints.values()].map((e) => ({
      name: e.endpoint,
      subject: e.subject,
      counters: e.counters,
      data: () => o.statsData(e.endpoint),
    })),
    metadata: o.metadata,
    calls: o.calls,
  };
}
