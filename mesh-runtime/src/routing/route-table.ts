import { type Mirror, type Policy, type Route, type RouteMatch, rangeMajor } from "@switchyard/schemas";
import type { z } from "zod";

type Match = z.output<typeof RouteMatch>;

/** Who a call is for, as route matches see it. */
export interface CallFacts {
  readonly tenant: string | undefined;
  readonly plan: string | undefined;
  /** Route headers, names lower-cased. */
  readonly headers: ReadonlyMap<string, string>;
}

/** A route's choice: the major version, and whether the chain keeps it. */
export interface VersionChoice {
  readonly major: number;
  readonly sticky: boolean;
}

/** A route compiled: cumulative weights, so a choice is one random number and a short scan. */
interface CompiledRoute {
  readonly match: Match | undefined;
  readonly majors: readonly number[];
  /** Upper bound (exclusive, out of 100) of each major's share. */
  readonly upTo: readonly number[];
  readonly sticky: boolean;
}

interface CompiledMirror {
  readonly match: Match | undefined;
  readonly major: number;
  readonly share: number;
}

/** An endpoint as calls name it: one object per endpoint (a `CallTarget`), the key of its lists. */
export interface EndpointRef {
  readonly service: string;
  readonly endpoint: string;
}

interface EndpointRules {
  readonly routes: readonly CompiledRoute[];
  readonly mirrors: readonly CompiledMirror[];
}

const NONE: readonly never[] = Object.freeze([]);

function matches(match: Match | undefined, facts: CallFacts): boolean {
  if (match === undefined) return true;
  if (match.tenant !== undefined && match.tenant !== facts.tenant) return false;
  if (match.plan !== undefined && match.plan !== facts.plan) return false;
  if (
    match.header !== undefined &&
    facts.headers.get(match.header.name.toLowerCase()) !== match.header.value
  ) {
    return false;
  }
  return true;
}

function compileRoute(route: Route): CompiledRoute {
  const split = typeof route.to === "string" ? { [route.to]: 100 } : route.to;
  const majors: number[] = [];
  const upTo: number[] = [];
  let sum = 0;
  for (const [range, weight] of Object.entries(split)) {
    if (weight === 0) continue;
    sum += weight;
    majors.push(rangeMajor(range));
    upTo.push(sum);
  }
  return { match: route.match, majors, upTo, sticky: route.sticky };
}

/**
 * The policy's routes and mirrors, by (service, endpoint), in document order: the first route
 * whose match holds decides. Built once per policy document.
 */
export class RouteTable {
  readonly #services: ReadonlySet<string>;
  readonly #routes: readonly Route[];
  readonly #mirrors: readonly Mirror[];
  // by target object: compiled on an endpoint's first call, dropped with the target or the table
  readonly #rulesOf = new WeakMap<EndpointRef, EndpointRules>();

  constructor(policy: Policy | undefined) {
    this.#routes = policy?.routes ?? NONE;
    this.#mirrors = policy?.mirrors ?? NONE;
    this.#services = new Set([...this.#routes, ...this.#mirrors].map((r) => r.service));
  }

  /** Whether any route or mirror names `service`: calls to others need no decision. */
  concerns(service: string): boolean {
    return this.#services.has(service);
  }

  /** The version a call goes to, or undefined: no route applies (the plain queue group). */
  choose(target: EndpointRef, facts: CallFacts, random: () => number): VersionChoice | undefined {
    for (const route of this.#rules(target).routes) {
      if (!matches(route.match, facts)) continue;
      const roll = random() * 100;
      const last = route.majors.length - 1;
      let i = 0;
      while (i < last && roll >= (route.upTo[i] as number)) i++;
      const major = route.majors[i];
      return major === undefined ? undefined : { major, sticky: route.sticky };
    }
    return undefined;
  }

  /** Majors that get a copy of this call: each mirror whose match holds, rolled for its share. */
  mirrors(target: EndpointRef, facts: CallFacts, random: () => number): readonly number[] {
    const mirrors = this.#rules(target).mirrors;
    if (mirrors.length === 0) return NONE;
    const out: number[] = [];
    for (const mirror of mirrors) {
      if (matches(mirror.match, facts) && random() * 100 < mirror.share) out.push(mirror.major);
    }
    return out;
  }

  /** The routes and mirrors that may apply to an endpoint, compiled on its first call. */
  #rules(target: EndpointRef): EndpointRules {
    let rules = this.#rulesOf.get(target);
    if (rules === undefined) {
      const { service, endpoint } = target;
      const applies = (r: Route | Mirror) =>
        r.service === service && (r.endpoint === "*" || r.endpoint === endpoint);
      rules = {
        routes: this.#routes.filter(applies).map(compileRoute),
        mirrors: this.#mirrors
          .filter(applies)
          .map((m) => ({ match: m.match, major: rangeMajor(m.to), share: m.percent })),
      };
      this.#rulesOf.set(target, rules);
    }
    return rules;
  }
}

const tables = new WeakMap<object, RouteTable>();
const NO_POLICY = new RouteTable(undefined);

/** The table of one policy document, built on first use and kept as long as the document. */
export function routeTableOf(policy: Policy | undefined): RouteTable {
  if (policy === undefined) return NO_POLICY;
  let table = tables.get(policy);
  if (table === undefined) {
    table = new RouteTable(policy);
    tables.set(policy, table);
  }
  return table;
}
