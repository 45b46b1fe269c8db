import {
  Header,
  isServiceName,
  ROUTE_HEADER_NAME_PATTERN,
  ROUTE_HEADER_VALUE_PATTERN,
} from "@switchyard/schemas";
import { BoundedCache } from "../bounded-cache.js";
import { MeshError } from "../errors.js";

/** The longest `Mesh-Route` read or written: a chain's routing state stays small. */
export const MAX_ROUTE_HEADER_CHARS = 1_024;
/** Entries (route headers and pins together) one `Mesh-Route` may hold. */
export const MAX_ROUTE_ENTRIES = 16;
const MAJOR = /^(0|[1-9][0-9]{0,5})$/;

/**
 * A request chain's routing state, as `Mesh-Route` carries it (docs/PROTOCOL.md §19): route
 * headers (`canary=1`) that routes match on, and pins (`@payments=2`) that sticky routes wrote.
 */
export interface RouteState {
  readonly headers: ReadonlyMap<string, string>;
  /** Service → major version. */
  readonly pins: ReadonlyMap<string, number>;
}

export const EMPTY_ROUTE: RouteState = Object.freeze({ headers: new Map(), pins: new Map() });

function refuse(value: string, rule: string): MeshError {
  return new MeshError("INVALID_ARGUMENT", `header ${Header.Route} ${rule}`, {
    details: { header: Header.Route, value: value.slice(0, 64) },
  });
}

/** Reads `Mesh-Route`; throws INVALID_ARGUMENT naming what is wrong. */
export function parseRouteHeader(value: string): RouteState {
  if (value.length > MAX_ROUTE_HEADER_CHARS) {
    throw refuse(value, `is longer than ${MAX_ROUTE_HEADER_CHARS} characters`);
  }
  const headers = new Map<string, string>();
  const pins = new Map<string, number>();
  const entries = value.split(",");
  if (entries.length > MAX_ROUTE_ENTRIES) throw refuse(value, `has more than ${MAX_ROUTE_ENTRIES} entries`);
  for (const raw of entries) {
    const entry = raw.trim();
    const eq = entry.indexOf("=");
    const key = entry.slice(0, eq);
    const val = entry.slice(eq + 1);
    if (eq < 1) throw refuse(value, "must be comma-separated name=value entries");
    if (key.startsWith("@")) {
      const service = key.slice(1);
      if (!isServiceName(service) || !MAJOR.test(val)) {
        throw refuse(value, "pins must read @<service>=<major>");
      }
      if (!pins.has(service)) pins.set(service, Number(val));
    } else {
      if (!ROUTE_HEADER_NAME_PATTERN.test(key) || !ROUTE_HEADER_VALUE_PATTERN.test(val)) {
        throw refuse(value, "entries must be name=value of [A-Za-z0-9_-] and [A-Za-z0-9_.:-], 1-64 each");
      }
      // names are case-insensitive, like header names; the first value counts
      const name = key.toLowerCase();
      if (!headers.has(name)) headers.set(name, val);
    }
  }
  return { headers, pins };
}

// chains repeat the same few headers (`canary=1`): each is parsed once, not per call
const parsed = new BoundedCache<string, RouteState>(1_000);

/** `parseRouteHeader`, remembered: the result is shared, so never mutated. */
export function routeStateOf(value: string): RouteState {
  return parsed.getOrCreate(value, parseRouteHeader);
}

/** Writes `Mesh-Route`, or undefined when there is nothing to carry. */
export function formatRouteHeader(state: RouteState): string | undefined {
  const parts: string[] = [];
  for (const [name, value] of state.headers) parts.push(`${name}=${value}`);
  for (const [service, major] of state.pins) parts.push(`@${service}=${major}`);
  if (parts.length === 0) return undefined;
  if (parts.length > MAX_ROUTE_ENTRIES) {
    throw new MeshError(
      "INVALID_ARGUMENT",
      `${Header.Route} would hold ${parts.length} entries; at most ${MAX_ROUTE_ENTRIES}`,
    );
  }
  const text = parts.join(",");
  if (text.length > MAX_ROUTE_HEADER_CHARS) {
    throw new MeshError(
      "INVALID_ARGUMENT",
      `${Header.Route} would exceed ${MAX_ROUTE_HEADER_CHARS} characters`,
    );
  }
  return text;
}
