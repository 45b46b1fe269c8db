import { type Mirror, type Policy, type Route, type RouteMatch, rangeMajor } from "@switchyard/schemas";
import type { z } from "zod";
import { BoundedCache } from "../bounded-cache.js";

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

/** Endpoints a caller may name are unbounded; the lists kept per endpoint are not. */
const MAX_ENDPOINTS = 10_000;
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
  readonly #routesOf = new BoundedCache<string, readonly CompiledRoute[]>(MAX_ENDPOINTS);
  readonly #mirrorsOf = new BoundedCache<string, readonly CompiledMirror[]>(MAX_ENDPOINTS);

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
  choose(
    service: string,
    endpoint: string,
    facts: CallFacts,
    random: () => number,
  ): VersionChoice | undefined {
    if (this.#routes.length === 0) return undefined;
    for (const route of this.#routesFor(service, endpoint)) {
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
  mirrors(service: string, endpoint: string, facts: CallFacts, random: () => number): number[] {
    if (this.#mirrors.length === 0) return NONE as never[];
    const out: number[] = [];
    for (const mirror of this.#mirrorsFor(service, endpoint)) {
      if (matches(mirror.match, facts) && random() * 100 < mirror.share) out.push(mirror.major);
    }
    return out;
  }

  /** The routes that may apply to an endpoint, compiled on its first call. */
  #routesFor(service: string, endpoint: string): readonly CompiledRoute[] {
    return this.#routesOf.getOrCreate(`${service}.${endpoint}`, () =>
      this.#routes
        .filter((r) => r.service === service && (r.endpoint === "*" || r.endpoint === endpoint))
        .map(compileRoute),
    );
  }

  #mirrorsFor(service: string, endpoint: string): readonly CompiledMirror[] {
    return this.#mirrorsOf.getOrCreate(`${service}.${endpoint}`, () =>
      this.#mirrors
        .filter((m) => m.service === service && (m.endpoint === "*" || m.endpoint === endpoint))
        .map((m) => ({ match: m.match, major: rangeMajor(m.to), share: m.percent })),
    );
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
