import { instanceSubject, majorOf } from "@switchyard/schemas";
import { BoundedCache } from "../bounded-cache.js";
import type { MeshError } from "../errors.js";
import type { EffectiveSettings } from "../policy/resolved-settings.js";
import { type Clock, monotonicNow } from "../resilience/clock.js";
import type { Member } from "./membership.js";
import { ejectionAllowance, OutlierState } from "./outlier-ejection.js";
import { pickOfTwo } from "./p2c.js";
import { PeakEwma } from "./peak-ewma.js";

/** Endpoints balanced at once: callers name them, so bounded. */
const MAX_POOLS = 1_000;
/** A failure counts at least this slow, so it never looks cheap. */
const FAILURE_FLOOR_MS = 10;

/** Where a call goes: a service's endpoint, of any version or of the one a route chose. */
export interface BalancedTarget {
  readonly service: string;
  readonly endpoint: string;
  /** The endpoint's plain subject: what STATS are keyed by. */
  readonly subject: string;
}

/** The version a route chose, undefined for any. */
export type Major = number | undefined;

/** One instance of an endpoint as this caller sees it: its subject, latency and health. */
export class Instance {
  readonly id: string;
  readonly version: string;
  readonly subject: string;
  readonly ewma: PeakEwma;
  readonly outlier: OutlierState;

  constructor(member: Member, subject: string, windowMs: number, clock: Clock) {
    this.id = member.id;
    this.version = member.version;
    this.subject = subject;
    this.ewma = new PeakEwma(clock());
    this.outlier = new OutlierState(windowMs, clock);
  }
}

/** What one settled attempt changed: an ejection is a span event, a metric and a log line. */
export interface Ejection {
  readonly instance: string;
  readonly forMs: number;
}

/** How one attempt to an instance ended, as balancing reads it. */
export type AttemptOutcome =
  /** An answer: the latency sample, and whether it was a failure the callee is to blame for. */
  | { readonly kind: "answered"; readonly error: MeshError | undefined; readonly calleeFailure: boolean }
  /** Nobody listens on the instance's subject: it is gone. */
  | { readonly kind: "gone" }
  /**
   * No reply within the attempt's time (`error`, a DEADLINE_EXCEEDED of this caller's making):
   * slow, or gone where the broker cannot say so. `gone`: drop it from membership until `$SRV`
   * names it again (a broker that vouches identity, where a gone instance is only silence).
   */
  | { readonly kind: "silent"; readonly error: MeshError; readonly gone: boolean }
  /** Given up on (a hedge that lost, a cancelled call): it took at least this long. */
  | { readonly kind: "abandoned" }
  /** Never reached the instance (not sent, this process's connection lost). */
  | { readonly kind: "unsent" };

/** Where the balancer learns a service's instances (`Membership`). */
export interface MemberSource {
  /** The known instances, and starts watching the service. */
  of(service: string): readonly Member[];
  /** Changes whenever `of` would answer differently; asking says the service is still called. */
  versionOf(service: string): number;
  gone(service: string, id: string): void;
  /** Asks again soon: an instance may have gone silently. */
  doubt(service: string): void;
}

/** Instances a pool remembers after membership dropped them: silence may drop a live one briefly. */
const MAX_RETIRED = 64;

class Pool {
  readonly instances = new Map<string, Instance>();
  /**
   * Instances membership dropped lately, oldest first: one that comes back keeps its latency
   * average and ejection, so a slow instance dropped on a timeout is not welcomed as a fresh one.
   */
  readonly retired = new Map<string, Instance>();
  /** The same instances, as a list to pick from. */
  list: Instance[] = [];
  /** No instance is ejected from this time on (monotonic ms): picks skip the ejection checks. */
  ejectedUntil = 0;
  version = -1;
  constructor(readonly subject: string) {}
}

/**
 * Latency-aware balancing (`balance: p2c-ewma`): per endpoint, the instances membership knows,
 * each with a Peak-EWMA of this caller's latency to it and its outlier state. A pick is the
 * cheaper of two random admitted instances, never one the call already tried while another is
 * there; failures count as slow so they never attract load.
 */
export class Balancer {
  readonly #prefix: string;
  readonly #membership: MemberSource;
  readonly #clock: Clock;
  readonly #pools = new BoundedCache<string, Pool>(MAX_POOLS);

  constructor(prefix: string, membership: MemberSource, clock: Clock = monotonicNow) {
    this.#prefix = prefix;
    this.#membership = membership;
    this.#clock = clock;
  }

  /**
   * The instance for the next attempt, or undefined when none is known (the queue group then).
   * `queue-group` settings pick at random, as the queue group would (hedged calls come here so
   * that a hedge goes to another instance than the attempt it hedges).
   * `avoid`: instances this call already tried, the latest last; they are chosen only when no
   * other admitted instance is left. `now`: the caller's reading of the clock, when it has one.
   */
  pick(
    target: BalancedTarget,
    major: Major,
    settings: EffectiveSettings,
    avoid: readonly Instance[] | undefined,
    now: number = this.#clock(),
  ): Instance | undefined {
    const pool = this.#pool(target, major, settings);
    if (pool.instances.size === 0) return undefined;
    // the common case, a first attempt while no instance is ejected: no candidate list to build
    if ((avoid === undefined || avoid.length === 0) && now >= pool.ejectedUntil) {
      const chosen = settings.balance === "p2c-ewma" ? pickOfTwo(pool.list, costAt, now) : pickAny(pool.list);
      chosen?.ewma.start();
      return chosen;
    }
    const admitted: Instance[] = [];
    for (const instance of pool.instances.values()) if (!instance.outlier.ejected) admitted.push(instance);
    let candidates = admitted.length > 0 ? admitted : [...pool.instances.values()];
    if (avoid !== undefined && avoid.length > 0) {
      const fresh = candidates.filter((i) => !avoid.includes(i));
      if (fresh.length > 0) candidates = fresh;
      else {
        // every admitted one was tried: anything but the latest, else the latest again
        const latest = avoid[avoid.length - 1];
        const others = candidates.filter((i) => i !== latest);
        if (others.length > 0) candidates = others;
      }
    }
    const chosen = settings.balance === "p2c-ewma" ? pickOfTwo(candidates, costAt, now) : pickAny(candidates);
    chosen?.ewma.start();
    return chosen;
  }

  /**
   * An attempt to `instance` answered well after `elapsedMs`, at `now` (monotonic ms): what
   * `settle` does with an answer that is no failure, without the outcome to sort (nearly every
   * attempt). It cannot eject.
   */
  answered(settings: EffectiveSettings, instance: Instance, elapsedMs: number, now: number): void {
    instance.ewma.end(now, elapsedMs);
    instance.outlier.record(false, settings.outlier, now);
  }

  /**
   * An attempt to `instance` settled after `elapsedMs`, at `now` when the caller read the clock.
   * Returns the ejection it caused, if any.
   */
  settle(
    target: BalancedTarget,
    major: Major,
    settings: EffectiveSettings,
    instance: Instance,
    elapsedMs: number,
    outcome: AttemptOutcome,
    now: number = this.#clock(),
  ): Ejection | undefined {
    let answer: { readonly error: MeshError | undefined; readonly calleeFailure: boolean };
    switch (outcome.kind) {
      case "unsent":
        instance.ewma.end(now, undefined);
        return undefined;
      case "gone":
        instance.ewma.end(now, undefined);
        this.#membership.gone(target.service, instance.id);
        return undefined;
      case "abandoned":
        // a lower bound: it counts only when it says the instance is slower than believed
        instance.ewma.end(now, elapsedMs > instance.ewma.latencyMs(now) ? elapsedMs : undefined);
        return undefined;
      case "silent":
        // across a broker's account import a gone instance is silence, not "no responders": there
        // it is dropped at once (a live one is back with the next answer); either way membership
        // asks again now rather than at its next round
        if (outcome.gone) this.#membership.gone(target.service, instance.id);
        this.#membership.doubt(target.service);
        answer = { error: outcome.error, calleeFailure: outcome.error.blame === "callee" };
        break;
      case "answered":
        answer = outcome;
        break;
    }
    const { error } = answer;
    if (error === undefined) {
      instance.ewma.end(now, elapsedMs);
    } else if (answer.calleeFailure || error.code === "OVERLOADED") {
      // a failure or a shed counts as twice as slow as the fastest other instance: never the
      // cheapest. (Against the slowest, two failing instances would inflate each other for ever.)
      const fastest = this.#fastestOther(target, major, instance, now);
      instance.ewma.end(now, Math.max(elapsedMs, FAILURE_FLOOR_MS, 2 * fastest));
    } else {
      // a refusal the caller caused (a bad input, a quota) says little of the instance: a lower bound
      instance.ewma.end(now, elapsedMs > instance.ewma.latencyMs(now) ? elapsedMs : undefined);
    }
    if (!instance.outlier.record(answer.calleeFailure, settings.outlier, now)) return undefined;
    const pool = this.#pools.get(poolKey(target, major));
    if (pool === undefined || !pool.instances.has(instance.id)) return undefined;
    let ejected = 0;
    for (const i of pool.instances.values()) if (i.outlier.ejected) ejected++;
    if (ejected >= ejectionAllowance(pool.instances.size, settings.outlier.maxEjectedShare)) return undefined;
    const forMs = instance.outlier.eject(settings.outlier);
    pool.ejectedUntil = Math.max(pool.ejectedUntil, now + forMs);
    return { instance: instance.id, forMs };
  }

  /** Instances of the endpoint (at its plain subject) ejected now by this caller, any version. */
  ejectedOf(subject: string): number {
    const ids = new Set<string>();
    for (const pool of this.#pools.values()) {
      if (pool.subject !== subject) continue;
      for (const i of pool.instances.values()) if (i.outlier.ejected) ids.add(i.id);
    }
    return ids.size;
  }

  /** The pool of `target`, resynced with membership when that changed. */
  #pool(target: BalancedTarget, major: Major, settings: EffectiveSettings): Pool {
    const key = poolKey(target, major);
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = new Pool(target.subject);
      this.#pools.set(key, pool);
    }
    // one lookup while membership is unchanged (nearly every pick); it keeps the service watched
    if (this.#membership.versionOf(target.service) === pool.version) return pool;
    const members = this.#membership.of(target.service);
    pool.version = this.#membership.versionOf(target.service);
    const next = new Map<string, Instance>();
    for (const m of members) {
      if (!m.endpoints.has(target.endpoint)) continue;
      if (major !== undefined && majorOf(m.version) !== major) continue;
      const known = pool.instances.get(m.id) ?? pool.retired.get(m.id);
      pool.retired.delete(m.id);
      next.set(
        m.id,
        known !== undefined && known.version === m.version
          ? known
          : new Instance(
              m,
              instanceSubject(this.#prefix, target.service, m.id, target.endpoint),
              settings.outlier.windowMs,
              this.#clock,
            ),
      );
    }
    for (const [id, i] of pool.instances) {
      if (next.has(id)) continue;
      pool.retired.delete(id);
      pool.retired.set(id, i);
      if (pool.retired.size > MAX_RETIRED) pool.retired.delete(pool.retired.keys().next().value as string);
    }
    pool.instances.clear();
    for (const [id, i] of next) pool.instances.set(id, i);
    pool.list = [...next.values()];
    return pool;
  }

  #fastestOther(target: BalancedTarget, major: Major, instance: Instance, now: number): number {
    let fastest = Number.POSITIVE_INFINITY;
    for (const i of this.#pools.get(poolKey(target, major))?.list ?? []) {
      const latency = i.ewma.latencyMs(now);
      if (i !== instance && latency > 0) fastest = Math.min(fastest, latency);
    }
    return fastest === Number.POSITIVE_INFINITY ? 0 : fastest;
  }
}

/** One pool per endpoint and version asked for: a route's calls pick among its version only. */
function poolKey(target: BalancedTarget, major: Major): string {
  return major === undefined ? target.subject : `${target.subject} ${major}`;
}

const costAt = (instance: Instance, now: number) => instance.ewma.cost(now);
const pickAny = <T>(candidates: readonly T[]): T | undefined =>
  candidates[Math.floor(Math.random() * candidates.length)];
