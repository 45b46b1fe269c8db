import type { NatsConnection } from "@nats-io/nats-core";
import { discoverySubject, isServiceName, parseJsonMessage } from "@switchyard/schemas";
import { z } from "zod";
import { monotonicNow } from "../resilience/clock.js";

/** How often a watched service's instances are asked for again. */
export const REFRESH_MS = 2_000;
/** How long one discovery round waits for replies. */
const GATHER_MS = 250;
/** Rounds an instance may miss (a reply late on a loaded machine) before it is dropped. */
const MAX_MISSED = 2;
/** A service nobody has called for this many rounds in a row (a minute) is no longer watched. */
const IDLE_ROUNDS = 30;
/** Timeouts make membership ask again at most this often. */
const DOUBT_EVERY_MS = 500;
/** Services watched at once: callers name them, so bounded. */
const MAX_WATCHED = 256;
/** Instances kept per service: replies are the peers' word, so bounded. */
const MAX_INSTANCES = 1_000;

/** What membership needs of an INFO reply (any NATS micro service's). */
const Info = z.object({
  name: z.string(),
  id: z.string().refine(isServiceName),
  version: z.string().max(64),
  endpoints: z.array(z.object({ name: z.string() })).max(1_000),
});

/** One live instance of a service, as discovery reported it. */
export interface Member {
  readonly id: string;
  /** Its contract version (semver). */
  readonly version: string;
  readonly endpoints: ReadonlySet<string>;
}

interface Watched {
  members: Member[];
  /** Rounds each instance has missed in a row. */
  readonly missed: Map<string, number>;
  /** Bumped on every change, so pools resync only then. */
  version: number;
  /** Called since the last round (a flag, not a clock read per call); rounds without a call. */
  asked: boolean;
  idleRounds: number;
  doubtedAt: number;
  readonly timer: NodeJS.Timeout;
  refreshing: boolean;
  /** Dropped while a round was out: its reply may predate the drop, so that round ignores it. */
  readonly droppedMidRound: Set<string>;
  /** Another round is due as soon as the one out ends (a doubt arrived meanwhile). */
  again: boolean;
}

const NONE: readonly Member[] = Object.freeze([]);

/**
 * The instances of the services this process calls, learnt from `$SRV.INFO.<service>` (docs/PROTOCOL.md
 * §14) every `REFRESH_MS` while the service is called, and from the calls themselves: an instance
 * whose own subject has no responders (or, across an account import, that did not answer in time)
 * is dropped at once, until a round names it again. Never blocks a call: until the first round
 * answers, a service has no known instances and calls go to its queue group.
 *
 * On a broker that vouches identity (`switchyard authz render`) the request reaches the service's
 * account alone, through its `$SRV.INFO.<service>` export, and nobody in this process's account
 * may subscribe to it: every reply is an instance of that service (docs/SECURITY.md §2).
 */
export class Membership {
  readonly #nc: NatsConnection;
  readonly #watched = new Map<string, Watched>();
  #stopped = false;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  /** The known instances of `service` (possibly none yet), and starts watching it. */
  of(service: string): readonly Member[] {
    const watched = this.#watch(service);
    return watched?.members ?? NONE;
  }

  /**
   * Changes with every change of `service`'s members: a cheap staleness check, made per balanced
   * pick, so it also notes that the service is still called (as `of` does); 0 while unwatched.
   */
  versionOf(service: string): number {
    const watched = this.#watched.get(service);
    if (watched === undefined) return 0;
    watched.asked = true;
    return watched.version;
  }

  /**
   * A call learnt that the instance is gone (no responders on its own subject), or may be (no
   * reply across an account import): dropped now, back when a round names it again.
   */
  gone(service: string, id: string): void {
    const watched = this.#watched.get(service);
    if (watched === undefined) return;
    const members = watched.members.filter((m) => m.id !== id);
    if (members.length === watched.members.length) return;
    watched.members = members;
    watched.missed.delete(id);
    watched.version++;
    // its reply in the round out may have left just before it went (`doubt` asks again, at its pace)
    if (watched.refreshing) watched.droppedMidRound.add(id);
  }

  /**
   * Asks `service` again now, in the background: an attempt to one of its instances timed out.
   * At most one such round per `DOUBT_EVERY_MS`, however many attempts time out.
   */
  doubt(service: string): void {
    const watched = this.#watched.get(service);
    const now = monotonicNow();
    if (watched === undefined || now - watched.doubtedAt < DOUBT_EVERY_MS) return;
    watched.doubtedAt = now;
    if (watched.refreshing) watched.again = true;
    else void this.#round(service, watched);
  }

  /** Asks again now, and resolves once the answers are in (tests and the bench wait on this). */
  refresh(service: string): Promise<void> {
    const watched = this.#watch(service);
    return watched === undefined ? Promise.resolve() : this.#round(service, watched);
  }

  stop(): void {
    this.#stopped = true;
    for (const w of this.#watched.values()) clearInterval(w.timer);
    this.#watched.clear();
  }

  #watch(service: string): Watched | undefined {
    let watched = this.#watched.get(service);
    if (watched !== undefined) {
      watched.asked = true;
      return watched;
    }
    if (this.#stopped || this.#watched.size >= MAX_WATCHED) return undefined;
    const timer = setInterval(() => {
      const w = this.#watched.get(service);
      if (w === undefined) return;
      w.idleRounds = w.asked ? 0 : w.idleRounds + 1;
      w.asked = false;
      if (w.idleRounds >= IDLE_ROUNDS) {
        clearInterval(w.timer);
        this.#watched.delete(service);
        return;
      }
      void this.#round(service, w);
    }, REFRESH_MS);
    timer.unref();
    watched = {
      members: [],
      missed: new Map(),
      version: 1,
      asked: true,
      idleRounds: 0,
      doubtedAt: 0,
      timer,
      refreshing: false,
      droppedMidRound: new Set(),
      again: false,
    };
    this.#watched.set(service, watched);
    void this.#round(service, watched);
    return watched;
  }

  /** One discovery round: replies naming the service, merged with those that missed only a few. */
  async #round(service: string, watched: Watched): Promise<void> {
    if (watched.refreshing || this.#nc.isClosed() || this.#nc.isDraining()) return;
    watched.refreshing = true;
    watched.again = false;
    watched.droppedMidRound.clear();
    try {
      const seen = new Map<string, Member>();
      const replies = await this.#nc.requestMany(discoverySubject("INFO", service), "", {
        strategy: "timer",
        maxWait: GATHER_MS,
      });
      for await (const reply of replies) {
        const info = parseJsonMessage(Info, reply.data);
        // the broker vouches where a reply came from, not what it says: it must name the service
        if (!info.success || info.data.name !== service || seen.size >= MAX_INSTANCES) continue;
        const { id, version, endpoints } = info.data;
        seen.set(id, { id, version, endpoints: new Set(endpoints.map((e) => e.name)) });
      }
      for (const id of watched.droppedMidRound) seen.delete(id);
      this.#merge(watched, seen);
    } catch {
      // no responders, a refused subject or a closed connection: keep what is known
    } finally {
      watched.refreshing = false;
    }
    // a doubt while this round was out: ask once more, so an instance dropped meanwhile that is
    // alive comes back soon, and one that is gone stays gone
    if (watched.again && this.#watched.get(service) === watched) await this.#round(service, watched);
  }

  #merge(watched: Watched, seen: Map<string, Member>): void {
    const members: Member[] = [...seen.values()];
    for (const m of watched.members) {
      if (seen.has(m.id)) continue;
      const missed = (watched.missed.get(m.id) ?? 0) + 1;
      if (missed < MAX_MISSED) {
        watched.missed.set(m.id, missed);
        members.push(m);
      } else {
        watched.missed.delete(m.id);
      }
    }
    for (const id of seen.keys()) watched.missed.delete(id);
    if (!sameMembers(watched.members, members)) {
      watched.members = members;
      watched.version++;
    }
  }
}

function sameMembers(a: readonly Member[], b: readonly Member[]): boolean {
  if (a.length !== b.length) return false;
  const byId = new Map(a.map((m) => [m.id, m]));
  return b.every((m) => {
    const before = byId.get(m.id);
    return (
      before !== undefined &&
      before.version === m.version &&
      before.endpoints.size === m.endpoints.size &&
      [...m.endpoints].every((e) => before.endpoints.has(e))
    );
  });
}
