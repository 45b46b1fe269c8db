import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  type AppliedReport,
  appliedSubject,
  configSubject,
  POLICY_CURRENT_KEY,
  PolicySnapshot,
  parseJsonMessage,
  policyApiPrefix,
  reportRequestSubject,
  summarizeIssues,
} from "@switchyard/schemas";
import type { Logger } from "pino";
import { z } from "zod";
import type { ResolvedMeshOptions } from "../options.js";
import { CompiledPolicy } from "./effective-settings.js";

const VersionOnly = z.object({ version: z.number().int() });
// a push may arrive before every KV replica has the write: re-read a few times before giving up
const CONFIRM_TRIES = 10;
const CONFIRM_DELAY_MS = 50;
/** After a failed read of a pushed version, the next try. */
const RETRY_PUSHED_MS = 1_000;

/** Opens the bucket; open() is lazy, so a missing bucket only shows in status(). */
async function openBucket(js: JetStreamClient, bucket: string): Promise<KV> {
  const kv = await new Kvm(js).open(bucket);
  await kv.status();
  return kv;
}

/** The server answered that this account has no JetStream (not: nobody answered). */
function accountWithoutJetStream(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof JetStreamApiError && cause.code === JetStreamApiCodes.JetStreamNotEnabledForAccount;
}

/**
 * This runtime's view of the mesh policy. KV is the source of truth: it is read at start, after
 * every reconnect and on a slow timer (so a missed push heals), and again whenever a push on the
 * config subject announces a newer version — a push alone is never applied, so a forged one does
 * nothing. A snapshot is applied whole or not at all; never an older version than the current one,
 * never an invalid one (the last good stays, and the rejection is reported on the applied subject).
 */
export class PolicyView {
  readonly #nc: NatsConnection;
  readonly #options: ResolvedMeshOptions;
  readonly #log: Logger;
  readonly #instanceId: string;
  readonly #subs: Subscription[] = [];
  #current: CompiledPolicy;
  #kv: KV | undefined;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #started = false;
  #stopped = false;
  #listener: ((policy: CompiledPolicy) => void) | undefined;

  constructor(nc: NatsConnection, options: ResolvedMeshOptions, log: Logger, instanceId: string) {
    this.#nc = nc;
    this.#options = options;
    this.#log = log;
    this.#instanceId = instanceId;
    this.#current = new CompiledPolicy(0, undefined, options.calls);
  }

  /** The policy in force; replaced whole on apply, so a reader always sees one version. */
  get current(): CompiledPolicy {
    return this.#current;
  }

  /** Called with each newly applied policy. */
  onApplied(listener: (policy: CompiledPolicy) => void): void {
    this.#listener = listener;
  }

  /** Subscribes to pushes and report requests, then reads KV once (bounded, never throws). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const prefix = this.#options.prefix;
    this.#subs.push(
      this.#nc.subscribe(configSubject(prefix), {
        callback: (_err, msg) => {
          const pushed = parseJsonMessage(VersionOnly, msg.data);
          if (!pushed.success) {
            this.#report("rejected", { reason: "a push on the config subject is not a policy snapshot" });
          } else if (pushed.data.version <= this.#current.version) {
            this.#report("ignored", {
              about: pushed.data.version,
              reason: `version ${pushed.data.version} is not newer than ${this.#current.version}`,
            });
          } else {
            void this.refresh(pushed.data.version);
          }
        },
      }),
      this.#nc.subscribe(reportRequestSubject(prefix), { callback: () => this.#report("heartbeat") }),
    );
    await this.refresh();
    // known to the controller from the start, even with no policy yet: a rollout waits for it
    if (this.#current.version === 0) this.#report("heartbeat");
    this.#schedule();
  }

  /** Re-reads KV; with `expected`, keeps re-reading until KV shows at least that version. */
  refresh(expected?: number): Promise<void> {
    if (!this.#started) return Promise.resolve();
    const run = async () => {
      try {
        await this.#refresh(expected);
      } catch (error) {
        this.#log.warn({ err: error }, "could not read the policy from KV; keeping the current one");
        // a pushed version is known to exist: try again soon rather than at the next heartbeat
        if (expected !== undefined && expected > this.#current.version && !this.#stopped) {
          setTimeout(() => void this.refresh(expected), RETRY_PUSHED_MS).unref();
        }
      }
    };
    // one read at a time; a push during a read chains another, so none is lost
    const next = (this.#refreshing ?? Promise.resolve()).then(run);
    this.#refreshing = next;
    return next;
  }

  async #refresh(expected: number | undefined): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.#stopped) return;
      const kv = await this.#bucket();
      const entry = kv === undefined ? null : await kv.get(POLICY_CURRENT_KEY);
      const raw =
        entry === null || entry.operation !== "PUT"
          ? undefined
          : parseJsonMessage(z.unknown(), entry.value).data;
      const version = VersionOnly.safeParse(raw).data?.version ?? 0;
      if (expected === undefined || version >= expected || attempt >= CONFIRM_TRIES) {
        if (raw !== undefined) this.#apply(raw);
        if (expected !== undefined && version < expected) {
          this.#report("rejected", {
            about: expected,
            reason: `a push announced version ${expected} but KV holds ${version}`,
          });
        }
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, CONFIRM_DELAY_MS));
    }
  }

  #apply(raw: unknown): void {
    const parsed = PolicySnapshot.safeParse(raw);
    if (!parsed.success) {
      const about = VersionOnly.safeParse(raw).data?.version;
      if (about !== undefined && about <= this.#current.version) return;
      const reason = summarizeIssues(parsed.error);
      this.#log.error({ version: about, reason }, "policy rejected: keeping the last good one");
      this.#report("rejected", { ...(about === undefined ? {} : { about }), reason });
      return;
    }
    const snapshot = parsed.data;
    if (snapshot.version <= this.#current.version) return;
    this.#current = new CompiledPolicy(snapshot.version, snapshot.document, this.#options.calls);
    this.#log.info({ version: snapshot.version, hash: snapshot.hash }, "policy applied");
    this.#report("applied");
    this.#listener?.(this.#current);
  }

  async #bucket(): Promise<KV | undefined> {
    if (this.#kv !== undefined) return this.#kv;
    const bucket = this.#options.policy.bucket;
    try {
      // The account's own JetStream first: an open broker, or the controller, which owns the bucket.
      // On a broker with an account per identity a service has none, and the server says so at once;
      // the bucket is then read through the controller's read-only exports, imported under a prefix
      // (`switchyard authz render`). Asking is cheaper than guessing from auth_required: an account
      // with its own JetStream under auth (the controller) keeps the plain API.
      this.#kv = await openBucket(jetstream(this.#nc), bucket).catch((error: unknown) => {
        if (!accountWithoutJetStream(error)) throw error;
        return openBucket(jetstream(this.#nc, { apiPrefix: policyApiPrefix(bucket) }), bucket);
      });
      return this.#kv;
    } catch (error) {
      this.#log.debug({ err: error }, "no policy bucket yet: running on defaults");
      return undefined;
    }
  }

  #schedule(): void {
    this.#timer = setInterval(() => {
      void this.refresh().then(() => this.#report("heartbeat"));
    }, this.#options.policy.refreshMs);
    this.#timer.unref();
  }

  #report(status: AppliedReport["status"], extra: { about?: number; reason?: string } = {}): void {
    if (this.#nc.isClosed()) return;
    const report: AppliedReport = {
      instanceId: this.#instanceId,
      service: this.#options.name,
      version: this.#current.version,
      status,
      ...extra,
      at: new Date().toISOString(),
      heartbeatMs: this.#options.policy.refreshMs,
    };
    try {
      this.#nc.publish(appliedSubject(this.#options.prefix), JSON.stringify(report));
    } catch (error) {
      this.#log.debug({ err: error }, "could not publish a policy report");
    }
  }

  /** Stops the timer and subscriptions, and tells the controller this instance is gone. */
  stop(): void {
    if (this.#stopped || !this.#started) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const sub of this.#subs) sub.unsubscribe();
    this.#report("stopped");
  }
}
