import { versionSubject } from "@switchyard/schemas";
import type { CompiledPolicy } from "../policy/effective-settings.js";
import { EMPTY_ROUTE, formatRouteHeader, parseRouteHeader, type RouteState } from "./route-header.js";
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
  /** Majors that get a discarded copy of the call (policy `mirrors`). */
  readonly mirrors: readonly number[];
}

const NO_MIRRORS: readonly number[] = Object.freeze([]);
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

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /**
   * `chain` is the handled request's `Mesh-Route` (already validated when it arrived); `own` the
   * call's route headers, which win over the chain's.
   */
  route(
    target: RoutedTarget,
    policy: CompiledPolicy,
    tenant: string | undefined,
    chain: string | undefined,
    own: Readonly<Record<string, string>> | undefined,
  ): RouteDecision {
    const table = routeTableOf(policy.policy);
    if (table.empty && chain === undefined && own === undefined) return this.#plainOf(target);
    const state = withOwn(chain === undefined ? EMPTY_ROUTE : parseRouteHeader(chain), own);
    const facts: CallFacts = { tenant, plan: policy.planOf(tenant), headers: state.headers };
    const mirrors = table.mirrors(target.service, target.endpoint, facts, this.#random);
    let major = state.pins.get(target.service);
    let pinned = state;
    if (major === undefined) {
      const choice = table.choose(target.service, target.endpoint, facts, this.#random);
      major = choice?.major;
      if (choice?.sticky === true) {
        const pins = new Map(state.pins);
        pins.set(target.service, choice.major);
        pinned = { headers: state.headers, pins };
      }
    }
    const header =
      pinned === state && own === undefined && chain !== undefined ? chain : formatRouteHeader(pinned);
    return {
      subject: major === undefined ? target.subject : this.#versionSubject(target, major),
      major,
      header,
      // a copy to the version the call already goes to would be the same call twice
      mirrors: mirrors.length === 0 ? NO_MIRRORS : mirrors.filter((m) => m !== major),
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

  /** A version subject for a mirror's copy. */
  mirrorSubject(target: RoutedTarget, major: number): string {
    return this.#versionSubject(target, major);
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

function withOwn(state: RouteState, own: Readonly<Record<string, string>> | undefined): RouteState {
  if (own === undefined) return state;
  const headers = new Map(state.headers);
  for (const [name, value] of Object.entries(own)) headers.set(name.toLowerCase(), value);
  return { headers, pins: state.pins };
}
