import type { CallStats } from "@switchyard/schemas";
import type { Logger } from "pino";
import type { EffectiveSettings } from "../policy/effective-settings.js";
import { CircuitBreaker } from "../resilience/circuit-breaker.js";
import { monotonicNow } from "../resilience/clock.js";
import type { MeshTelemetry } from "../telemetry/telemetry.js";

/** A breaker with the endpoint it guards and when a call last asked it. */
type BreakerEntry = {
  readonly service: string;
  readonly endpoint: string;
  readonly breaker: CircuitBreaker;
  usedAt: number;
};

// STATS and metrics show breakers used this recently; one idle this long is forgotten
const RECENT_BREAKER_MS = 60_000;
const IDLE_BREAKER_MS = 600_000;

/** The worst breaker state a process holds for an endpoint, and whether one was used lately. */
export interface WorstBreaker {
  state: CallStats["breaker"];
  recent: boolean;
}

/**
 * A caller's circuit breakers: one per endpoint and parameters, so a policy change starts a fresh
 * one and tenants on plans with other parameters have their own. Breakers left behind by older
 * policies go once they have been idle a while.
 */
export class BreakerRegistry {
  readonly #breakers = new Map<string, BreakerEntry>();
  readonly #entryOf = new WeakMap<CircuitBreaker, BreakerEntry>();
  readonly #telemetry: MeshTelemetry;
  readonly #log: Logger;

  constructor(telemetry: MeshTelemetry, log: Logger) {
    this.#telemetry = telemetry;
    this.#log = log;
  }

  /** The breaker for `service.endpoint` with parameters `o`, made on first use. */
  get(service: string, endpoint: string, o: EffectiveSettings["breaker"]): CircuitBreaker {
    const key = `${service}.${endpoint}|${o.failureRatio}|${o.minimumCalls}|${o.windowMs}|${o.openMs}|${o.halfOpenProbes}`;
    const now = monotonicNow();
    let entry = this.#breakers.get(key);
    if (entry === undefined) {
      for (const [k, e] of this.#breakers) {
        if (now - e.usedAt > IDLE_BREAKER_MS) {
          this.#breakers.delete(k);
          this.#entryOf.delete(e.breaker);
        }
      }
      const breaker = new CircuitBreaker(o, (state) => {
        this.#telemetry.breakerChanged(service, endpoint, state);
        this.#log.warn({ service, endpoint, state }, `circuit ${state}`);
      });
      entry = { service, endpoint, breaker, usedAt: now };
      this.#breakers.set(key, entry);
      this.#entryOf.set(breaker, entry);
    }
    entry.usedAt = now;
    return entry.breaker;
  }

  /**
   * Marks a breaker `get` returned as used now, without building its key: false when the
   * registry has forgotten it (idle too long), and `get` must be asked again. `now`: the call's
   * start, which it has read already.
   */
  touch(breaker: CircuitBreaker, now: number): boolean {
    const entry = this.#entryOf.get(breaker);
    if (entry === undefined) return false;
    entry.usedAt = now;
    return true;
  }

  /** The breakers of endpoints called in the last minute, for metrics. */
  *recentStates(): Iterable<CallStats> {
    const since = monotonicNow() - RECENT_BREAKER_MS;
    for (const e of this.#breakers.values()) {
      if (e.usedAt >= since) yield { service: e.service, endpoint: e.endpoint, breaker: e.breaker.state };
    }
  }

  /** Per `service/endpoint`, the worst state among its breakers (plans may have their own). */
  worstStates(): Map<string, WorstBreaker> {
    const since = monotonicNow() - RECENT_BREAKER_MS;
    const worst = new Map<string, WorstBreaker>();
    for (const e of this.#breakers.values()) {
      // names are `^[A-Za-z0-9_-]+$`, so "/" cannot be part of one
      const key = `${e.service}/${e.endpoint}`;
      const state = e.breaker.state;
      const had = worst.get(key);
      const recent = e.usedAt >= since || had?.recent === true;
      if (had === undefined || had.state === "closed" || state === "open") worst.set(key, { state, recent });
      else had.recent = recent;
    }
    return worst;
  }
}
