import { z } from "zod";
import { EndpointName, NAME_PATTERN, NAME_RULE, ServiceName, TenantId } from "./subjects.js";

// Traffic routes and mirrors (issue 18): which version of a service a caller sends a call to.
// docs/POLICY.md#routes is the reference; docs/PROTOCOL.md §2 the subjects they pick.

/** A major version as routes name it: `2.x` is every instance whose contract version is 2.*. */
export const VERSION_RANGE_PATTERN = /^(0|[1-9][0-9]{0,5})\.x$/;
export const VersionRange = z
  .string()
  .regex(VERSION_RANGE_PATTERN, 'must be a major version such as "2.x" (every 2.* instance)');

/** The major a range names (`2` for `2.x`). */
export function rangeMajor(range: string): number {
  return Number.parseInt(range, 10);
}

/** A route header's name: a key of `Mesh-Route` (docs/PROTOCOL.md §19). */
export const ROUTE_HEADER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** A route header's value. */
export const ROUTE_HEADER_VALUE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const RouteHeaderName = z
  .string()
  .regex(ROUTE_HEADER_NAME_PATTERN, "must be 1-64 characters of [A-Za-z0-9_-]");
export const RouteHeaderValue = z
  .string()
  .regex(ROUTE_HEADER_VALUE_PATTERN, "must be 1-64 characters of [A-Za-z0-9_.:-]");

/** Which calls a route or mirror applies to; every condition given must hold. */
export const RouteMatch = z
  .strictObject({
    tenant: TenantId.optional(),
    /** The tenant's plan (tenants.plans). */
    plan: z.string().regex(NAME_PATTERN, NAME_RULE).optional(),
    /** A route header the chain carries (`Mesh-Route`, set by the first caller). */
    header: z.strictObject({ name: RouteHeaderName, value: RouteHeaderValue }).optional(),
  })
  .refine((m) => m.tenant !== undefined || m.plan !== undefined || m.header !== undefined, {
    message: "name a tenant, a plan or a header (leave match out to match every call)",
  });

/** Weights in percent per major version; they sum to 100. */
export const RouteSplit = z.record(VersionRange, z.number().int().min(0).max(100));

export const Route = z.strictObject({
  service: ServiceName,
  /** One endpoint, or "*" (default): every endpoint of the service. */
  endpoint: z.union([EndpointName, z.literal("*")]).default("*"),
  /** Absent: every call to the endpoint. */
  match: RouteMatch.optional(),
  /** Where matching calls go: one version (`"2.x"`) or weights per version (`{ "1.x": 95, "2.x": 5 }`). */
  to: z.union([VersionRange, RouteSplit]),
  /** Pin the chosen version for the rest of the request chain (`Mesh-Route`), at every hop. */
  sticky: z.boolean().default(false),
});
export type Route = z.output<typeof Route>;

export const Mirror = z.strictObject({
  service: ServiceName,
  endpoint: z.union([EndpointName, z.literal("*")]).default("*"),
  match: RouteMatch.optional(),
  /** The version that also gets a copy; its replies are discarded. */
  to: VersionRange,
  /** Share of the matching calls copied, in percent (fractions allowed). */
  percent: z.number().min(0).max(100),
});
export type Mirror = z.output<typeof Mirror>;

/** Checks what one route's shape cannot: weights that add up, no unreachable duplicate. */
export function checkRoutes(
  routes: readonly Route[],
  issue: (path: PropertyKey[], message: string) => void,
): void {
  const seen = new Map<string, number>();
  routes.forEach((route, i) => {
    if (typeof route.to !== "string") {
      const weights = Object.values(route.to);
      const sum = weights.reduce((a, b) => a + b, 0);
      if (weights.length === 0) issue(["routes", i, "to"], "name at least one version");
      else if (sum !== 100) issue(["routes", i, "to"], `weights sum to ${sum}; they must sum to 100`);
    }
    const key = JSON.stringify([route.service, route.endpoint, route.match ?? null]);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      issue(
        ["routes", i],
        `routes[${earlier}] has the same service, endpoint and match: this one never applies`,
      );
    } else seen.set(key, i);
  });
}
