import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  CancelMessage,
  type Contract,
  cancelSubject,
  parseJsonMessage,
  queueGroup,
  serviceSubjects,
} from "@switchyard/schemas";
import type { Logger } from "pino";
import { answerDiscovery, type DiscoverySource } from "../discovery/responder.js";
import { MeshError } from "../errors.js";
import { refuseRequest } from "./request-outcome.js";
import { serveRequest } from "./request-pipeline.js";
import type { InFlight, PipelineHost, ServedEndpoint } from "./served-endpoint.js";

/** A running service instance, as `serve()` returns it. */
export interface ServiceHandle {
  readonly name: string;
  readonly version: string;
  /** Stops taking requests, lets those in flight finish (bounded by `drainTimeoutMs`). */
  stop(): Promise<void>;
}

/**
 * One contract served on one connection: a single subscription on `<prefix>.svc.<name>.>` in queue
 * group `<name>`, so NATS hands each request to one instance and an unknown endpoint under the
 * service still reaches us and gets NOT_FOUND instead of a timeout.
 */
export class ServiceInstance implements ServiceHandle {
  readonly name: string;
  readonly version: string;
  readonly #endpoints: Map<string, ServedEndpoint>;
  readonly #host: PipelineHost;
  readonly #log: Logger;
  readonly #subjectPrefixLength: number;
  readonly #drainTimeoutMs: number;
  readonly #sub: Subscription;
  readonly #discovery: Subscription[];
  readonly #cancels: Subscription;
  readonly #requests: InFlight = new Map();
  #inFlight = 0;
  /** Set when the broker refused a subscription: this identity may not serve the service. */
  refusal: Error | undefined;
  #idle: (() => void) | undefined;
  #stopping: Promise<void> | undefined;

  constructor(
    nc: NatsConnection,
    prefix: string,
    contract: Contract,
    endpoints: Map<string, ServedEndpoint>,
    host: PipelineHost,
    drainTimeoutMs: number,
    instanceId: string,
    statsData: (endpoint: string) => unknown,
    metadata: () => Record<string, string>,
    calls: DiscoverySource["calls"],
  ) {
    this.name = contract.name;
    this.version = contract.version;
    this.#endpoints = endpoints;
    this.#host = host;
    this.#log = host.log;
    this.#drainTimeoutMs = drainTimeoutMs;
    const wildcard = serviceSubjects(prefix, contract.name);
    this.#subjectPrefixLength = wildcard.length - 1;
    this.#sub = nc.subscribe(wildcard, {
      queue: queueGroup(contract.name),
      callback: (err, msg) => {
        if (err) this.refusal ??= err;
        else this.#onRequest(msg);
      },
    });
    // a caller that gave up says so to every instance; the one handling it aborts ctx.signal
    this.#cancels = nc.subscribe(cancelSubject(prefix, contract.name), {
      callback: (err, msg) => {
        if (err) {
          this.refusal ??= err;
          return;
        }
        const cancel = parseJsonMessage(CancelMessage, msg.data);
        if (cancel.success) this.#requests.get(cancel.data.reply)?.cancel();
      },
    });
    this.#discovery = answerDiscovery(
      nc,
      {
        name: contract.name,
        version: contract.version,
        description: contract.description ?? "",
        queueGroup: queueGroup(contract.name),
        started: new Date(),
        endpoints: [...endpoints.values()].map((e) => ({
          name: e.endpoint,
          subject: e.subject,
          counters: e.counters,
          data: () => statsData(e.endpoint),
        })),
        metadata,
        calls,
      },
      instanceId,
      host.log,
    );
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  #onRequest(msg: Msg): void {
    if (!msg.reply) {
      // a publish without a reply subject cannot be answered; say so rather than drop it unseen
      this.#log.warn({ subject: msg.subject }, "request without a reply subject ignored");
      return;
    }
    const endpoint = this.#endpoints.get(msg.subject.slice(this.#subjectPrefixLength));
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
    void this.#handle(msg, endpoint);
  }

  async #handle(msg: Msg, endpoint: ServedEndpoint): Promise<void> {
    this.#inFlight++;
    try {
      await serveRequest(msg, endpoint, this.#host, this.#requests);
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#idle?.();
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#drain();
    return this.#stopping;
  }

  async #drain(): Promise<void> {
    // a draining instance no longer advertises itself
    for (const sub of this.#discovery) sub.unsubscribe();
    // drain() unsubscribes, then delivers what the server had already sent us
    await this.#sub.drain().catch((error: unknown) => {
      this.#log.warn({ err: error, service: this.name }, "subscription drain failed");
    });
    if (this.#inFlight === 0) {
      this.#cancels.unsubscribe();
      return;
    }
    const idle = new Promise<void>((resolve) => {
      this.#idle = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#drainTimeoutMs);
    });
    const finished = await Promise.race([idle.then(() => true), timeout]);
    clearTimeout(timer);
    if (!finished) {
      this.#log.warn(
        { service: this.name, inFlight: this.#inFlight },
        "drain timed out with requests still in flight",
      );
    }
    this.#cancels.unsubscribe();
  }
}
