import type { Policy } from "./policy.js";

type Access = Policy["access"];
type Rule = Access["rules"][number];

/**
 * The control plane's service. Access rules govern calls between services; who may call the
 * controller is decided by identity (`switchyard authz render`): its read endpoints by the rules,
 * its write endpoints by the operator alone.
 */
export const CONTROLLER_SERVICE = "controller";
/** Controller endpoints that change the policy: only the operator identity may call them. */
export const CONTROLLER_WRITE_ENDPOINTS: readonly string[] = Object.freeze(["apply", "rollback"]);

function ruleMatches(rule: Rule, from: string | undefined, to: string, endpoint: string): boolean {
  return (
    (rule.from === "*" || rule.from === from) &&
    (rule.to === "*" || rule.to === to) &&
    (rule.endpoints === undefined || rule.endpoints.includes("*") || rule.endpoints.includes(endpoint))
  );
}

/**
 * Whether `from` (the caller's mesh name; undefined when it gave none) may call `to.endpoint`.
 * Rules only allow: a call is allowed by the default, or by any rule that matches it.
 */
export function allowsCall(access: Access, from: string | undefined, to: string, endpoint: string): boolean {
  return access.default === "allow" || access.rules.some((r) => ruleMatches(r, from, to, endpoint));
}

/**
 * What `from` may call, as the broker is told: per target service, `"*"` for all its endpoints or
 * the endpoint names; `"*"` as a key for every service (the default or a wildcard rule).
 */
export function callableBy(access: Access, from: string): Map<string, "*" | Set<string>> {
  const out = new Map<string, "*" | Set<string>>();
  const grant = (to: string, endpoints: readonly string[] | undefined) => {
    const all = endpoints === undefined || endpoints.includes("*");
    const had = out.get(to);
    if (had === "*") return;
    if (all) out.set(to, "*");
    else out.set(to, new Set([...(had ?? []), ...endpoints]));
  };
  if (access.default === "allow") grant("*", undefined);
  for (const rule of access.rules)
    if (rule.from === "*" || rule.from === from) grant(rule.to, rule.endpoints);
  return out;
}
