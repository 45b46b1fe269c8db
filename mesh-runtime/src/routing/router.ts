import { versionSubject } from "@switchyard/schemas";
import type { CompiledPolicy } from "../policy/effective-settings.js";
import { EMPTY_ROUTE, formatRouteHeader, type RouteState, routeStateOf } from "./route-header.js";
import { type CallFacts, routeTableOf } from "./route-table.js";

/** The endpoint a call names (a `CallTarget`). */
export interface RoutedTarget {
  readonly service: string;
  readonly endpoint: string;
  /** `<prefix>.svc.<service>.<endpoint>`. */
  readonly subject: string;
}

/** Where one logical call goes, decided before its first attempt; its retries go there too. */
export interface RouteDecision {
  /** The plain endpoint subject, or a version subject when a route or a pin chose one. */
  readonly subject: string;
  /** The chosen major; undefined: any instance (the plain queue group). */
  readonly major: number | undefined;
  /** `Mesh-Route` to send: the chain's state, with this call's route headers and pin. */
  readonly header: string | undefined;
  /** Where discarded copies of the call go (policy `mirrors`). */
  readonly mirrors: readonly MirrorTarget[];
}

/** One mirror's copy of a call: the version and its subject. */
export interface MirrorTarget {
  readonly major: number;
  readonly subject: string;
}

/** The request a call is made from (`ParentRequest`): what its chain carries. */
export interface ChainParent {
  /** Its `Mesh-Route`, validated when it arrived. */
  readonly route: string | undefined;
}

const NO_MIRRORS: readonly MirrorTarget[] = Object.freeze([]);
const MAX_SUBJECTS = 10_000;

/**
 * Picks the version a call goes to (policy `routes`, docs/POLICY.md#routes): a pin the request
 * chain carries wins (a sticky route chose for the whole chain), else the first route whose match
 * holds, else none (the plain subject, any instance). Also rolls the policy's mirrors.
 */
export class Router {
  readonly #random: () => number;
  // per target object (one per endpoint): the decision of a call nothing routes, made once
  readonly #plain = new WeakMap<RoutedTarget, RouteDecision>();
  readonly #subjects = new Map<string, string>();
  // pins sticky routes chose for calls made while handling a request: its later calls (siblings
  // of the first) keep them, as its callees do through Mesh-Route; they go with the request
  readonly #chosen = new WeakMap<ChainParent, Map<string, number>>();

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /**
   * `parent` is the request being handled, if any (its `Mesh-Route` and the pins its earlier calls
   * chose); `own` the call's route headers, which win over the chain's.
   */
  route(
    target: RoutedTarget,
    policy: CompiledPolicy,
    tenant: string | undefined,
    parent: ChainParent | undefined,
    own: Readonly<Record<string, string>> | undefined,
  ): RouteDecision {
    const table = routeTableOf(policy.policy);
    const chain = parent?.route;
    const chosen = parent === undefined ? undefined : this.#chosen.get(parent);
    if (chain === undefined && own === undefined && chosen === undefined && !table.concerns(target.service)) {
      return this.#plainOf(target);
    }
    const received = chain === undefined ? EMPTY_ROUTE : routeStateOf(chain);
    const state = withPins(withOwn(received, own), chosen);
    const facts: CallFacts = { tenant, plan: policy.planOf(tenant), headers: state.headers };
    const mirrors = table.mirrors(target, facts, this.#random);
    let major = state.pins.get(target.service);
    let pinned = state;
    if (major === undefined) {
      const choice = table.choose(target, facts, this.#random);
      major = choice?.major;
      if (choice?.sticky === true) {
        const pins = new Map(state.pins);
        pins.set(target.service, choice.major);
        pinned = { headers: state.headers, pins };
        if (parent !== undefined) {
          const mine = chosen ?? new Map<string, number>();
          mine.set(target.service, choice.major);
          this.#chosen.set(parent, mine);
        }
      }
    }
    const header = pinned === received ? chain : formatRouteHeader(pinned);
    return {
      subject: major === undefined ? target.subject : this.#versionSubject(target, major),
      major,
      header,
      // a copy to the version the call already goes to would be the same call twice
      mirrors:
        mirrors.length === 0
          ? NO_MIRRORS
          : mirrors
              .filter((m) => m !== major)
              .map((m) => ({ major: m, subject: this.#versionSubject(target, m) })),
    };
  }

  /** The version subject of a target, made once per (endpoint, major). */
  #versionSubject(target: RoutedTarget, major: number): string {
    const key = `${target.subject} ${major}`;
    let subject = this.#subjects.get(key);
    if (subject === undefined) {
      subject = versionSubject(prefixOf(target), target.service, major, target.endpoint);
      if (this.#subjects.size < MAX_SUBJECTS) this.#subjects.set(key, subject);
    }
    return subject;
  }

  #plainOf(target: RoutedTarget): RouteDecision {
    let decision = this.#plain.get(target);
    if (decision === undefined) {
      decision = Object.freeze({
        subject: target.subject,
        major: undefined,
        header: undefined,
        mirrors: NO_MIRRORS,
      });
      this.#plain.set(target, decision);
    }
    return decision;
  }
}

/** The mesh prefix a target's plain subject was made with (`<prefix>.svc.<service>.<endpoint>`). */
function prefixOf(target: RoutedTarget): string {
  return target.subject.slice(0, target.subject.length - `.svc.${target.service}.${target.endpoint}`.length);
}

function withPins(state: RouteState, chosen: ReadonlyMap<string, number> | undefined): RouteState {
  if (chosen === undefined) return state;
  const pins = new Map(state.pins);
  for (const [service, major] of chosen) if (!pins.has(service)) pins.set(service, major);
  return { headers: state.headers, pins };
}

function withOwn(state: RouteState, own: Readonly<Record<string, string>> | undefined): RouteState {
  if (own === undefined) return state;
  const headers = new Map(state.headers);
  for (const [name, value] of Object.entries(own)) headers.set(name.toLowerCase(), value);
  return { headers, pins: state.pins };
}
