import { z } from "zod";
import { CallSettings } from "./call-settings.js";
import { isPublicUserNkey } from "./nkey.js";
import { quotaBucket } from "./quota.js";
import { checkRoutes, Mirror, Route } from "./routes.js";
import { EndpointName, NAME_PATTERN, NAME_RULE, ServiceName, TenantId } from "./subjects.js";

// The policy document (DESIGN §5): strict everywhere (an unknown key is an error, so a typo is
// never silently ignored) and units in names. docs/POLICY.md is the reference.

const Millis = z.number().int().positive().max(3_600_000);
const Name = z.string().regex(NAME_PATTERN, NAME_RULE);
const Wildcard = z.literal("*");

export const ServicePolicy = z.strictObject({
  ...CallSettings.shape,
  endpoints: z.record(EndpointName, CallSettings).optional(),
});

export const AccessRule = z.strictObject({
  /** Calling service, or "*". */
  from: z.union([ServiceName, Wildcard]),
  /** Called service, or "*". */
  to: z.union([ServiceName, Wildcard]),
  /** Endpoints of `to`; default all. */
  endpoints: z
    .array(z.union([EndpointName, Wildcard]))
    .min(1)
    .optional(),
});

export const AccessPolicy = z.strictObject({
  /** What happens to a call no rule matches. */
  default: z.enum(["allow", "deny"]),
  rules: z.array(AccessRule).max(10_000),
});

export const Plan = z.strictObject({
  description: z.string().max(500).optional(),
  /** Overrides for every call made for a tenant on this plan (applied last). */
  settings: CallSettings.optional(),
});

/** An identity that may originate tenants: it signs tenant tokens with this nkey. */
export const TenantIssuer = z.strictObject({
  /** The public user nkey (`U…`) of the seed the issuer connects with. */
  publicKey: z
    .string()
    .regex(/^U[A-Z2-7]{55}$/, "must be a public user nkey (U…, 56 characters)")
    .refine(isPublicUserNkey, "is not a valid public user nkey (its checksum does not match)"),
});

export const TenantsPolicy = z.strictObject({
  /** Plan of a tenant the policy does not list, or "deny" (UNAUTHENTICATED). */
  unknownTenants: z.union([z.literal("deny"), z.strictObject({ plan: Name })]),
  plans: z.record(Name, Plan),
  tenants: z.record(TenantId, z.strictObject({ plan: Name })),
  /** Identities (by name) whose signed tenant tokens callees accept. */
  issuers: z.record(ServiceName, TenantIssuer).default({}),
  /**
   * `verified`: a request naming a tenant needs a valid token (UNAUTHENTICATED otherwise);
   * `asserted`: `Mesh-Tenant` alone is taken at its word, though a token still wins over it.
   */
  require: z.enum(["verified", "asserted"]).default("asserted"),
});

export const QuotaRule = z.strictObject({
  name: Name,
  /** Who and what the rule limits; "*" matches anything. Name a tenant or a plan, not both. */
  match: z.strictObject({
    tenant: z.union([TenantId, Wildcard]).optional(),
    plan: Name.optional(),
    service: z.union([ServiceName, Wildcard]),
    endpoint: z.union([EndpointName, Wildcard]),
  }),
  /** Requests (cost units) allowed per period. */
  rate: z.number().int().min(1).max(100_000_000),
  periodMs: Millis,
  /** Units that may be spent at once above the steady rate. */
  burst: z.number().int().min(0).max(100_000_000).optional(),
  /** Units one request costs. */
  cost: z.number().int().min(1).max(1_000_000).optional(),
  /** When Redis is unreachable: admit, deny, or enforce a local share of the limit. */
  onStoreFailure: z.enum(["open", "closed", "local"]),
  /** Evaluate and count, but always admit. */
  shadow: z.boolean().optional(),
  /** Tokens an instance may take per Redis call; 0 (or absent) is one decision per request. */
  leaseTokens: z.number().int().min(0).max(1_000_000).optional(),
});

export const FaultRule = z.strictObject({
  service: ServiceName,
  endpoint: z.union([EndpointName, Wildcard]).optional(),
  tenant: TenantId.optional(),
  delay: z.strictObject({ ms: Millis, fraction: z.number().min(0).max(1) }).optional(),
  abort: z
    .strictObject({
      code: z.enum(["INTERNAL", "UNAVAILABLE", "OVERLOADED", "DEADLINE_EXCEEDED"]),
      fraction: z.number().min(0).max(1),
    })
    .optional(),
});

/** The whole mesh's policy: one document, versioned by the controller. */
export const Policy = z
  .strictObject({
    /** Editors' JSON Schema reference; ignored by the mesh. */
    $schema: z.string().optional(),
    description: z.string().max(2_000).optional(),
    defaults: CallSettings.default({}),
    services: z.record(ServiceName, ServicePolicy).default({}),
    access: AccessPolicy.default({ default: "allow", rules: [] }),
    tenants: TenantsPolicy.default({
      unknownTenants: { plan: "default" },
      plans: { default: {} },
      tenants: {},
      issuers: {},
      require: "asserted",
    }),
    quotas: z.array(QuotaRule).max(10_000).default([]),
    faults: z.array(FaultRule).max(1_000).default([]),
    /** Which version a call goes to (docs/POLICY.md#routes); first match per endpoint wins. */
    routes: z.array(Route).max(1_000).default([]),
    /** Copies of a share of the calls, sent also to another version; replies discarded. */
    mirrors: z.array(Mirror).max(1_000).default([]),
  })
  .superRefine((policy, ctx) => {
    const plans = policy.tenants.plans;
    const planExists = (plan: string, path: PropertyKey[]) => {
      if (!Object.hasOwn(plans, plan)) {
        ctx.addIssue({ code: "custom", path, message: `plan "${plan}" is not declared in tenants.plans` });
      }
    };
    const unknown = policy.tenants.unknownTenants;
    if (unknown !== "deny") planExists(unknown.plan, ["tenants", "unknownTenants", "plan"]);
    for (const [tenant, { plan }] of Object.entries(policy.tenants.tenants)) {
      planExists(plan, ["tenants", "tenants", tenant, "plan"]);
    }
    checkRoutes(policy.routes, (path, message) => ctx.addIssue({ code: "custom", path, message }));
    policy.routes.forEach((route, i) => {
      if (route.match?.plan !== undefined) planExists(route.match.plan, ["routes", i, "match", "plan"]);
    });
    policy.mirrors.forEach((mirror, i) => {
      if (mirror.match?.plan !== undefined) planExists(mirror.match.plan, ["mirrors", i, "match", "plan"]);
    });
    const issuerKeys = new Map<string, string>();
    for (const [issuer, { publicKey }] of Object.entries(policy.tenants.issuers)) {
      const other = issuerKeys.get(publicKey);
      if (other !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["tenants", "issuers", issuer, "publicKey"],
          message: `the same key as issuer "${other}": a token must name one issuer`,
        });
      }
      issuerKeys.set(publicKey, issuer);
    }
    const names = new Set<string>();
    policy.quotas.forEach((rule, i) => {
      if (names.has(rule.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["quotas", i, "name"],
          message: `duplicate rule name "${rule.name}"`,
        });
      }
      names.add(rule.name);
      if (rule.match.tenant !== undefined && rule.match.plan !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["quotas", i, "match"],
          message: "name a tenant or a plan, not both",
        });
      }
      if (rule.match.plan !== undefined) planExists(rule.match.plan, ["quotas", i, "match", "plan"]);
      const { depth, cost } = quotaBucket(rule);
      if (depth < cost) {
        ctx.addIssue({
          code: "custom",
          path: ["quotas", i, rule.burst === undefined ? "cost" : "burst"],
          message: `burst ${depth} is below cost ${cost}: no request could ever be admitted`,
        });
      }
    });
  });
export type Policy = z.output<typeof Policy>;
export type PolicyInput = z.input<typeof Policy>;

/** A versioned policy as the controller stores it in KV and publishes it on the config subject. */
/** A policy version: a safe integer, so the controller can always compute the next one exactly. */
const Version = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export const PolicySnapshot = z.strictObject({
  version: Version,
  /** sha256 of the document's JSON, hex. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.iso.datetime(),
  author: z.string().max(200).optional(),
  note: z.string().max(2_000).optional(),
  /** Set when this version restores an older one. */
  rollbackOf: Version.optional(),
  document: Policy,
});
export type PolicySnapshot = z.output<typeof PolicySnapshot>;

/** What a runtime reports on the applied subject after each policy decision (and as a heartbeat). */
export const AppliedReport = z.strictObject({
  instanceId: z.string().min(1).max(64),
  service: ServiceName,
  /** The version the instance runs now (0: none yet). */
  version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  status: z.enum(["applied", "rejected", "ignored", "heartbeat", "stopped"]),
  /** The version a rejection or ignore was about, and why. */
  about: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  reason: z.string().max(4_000).optional(),
  at: z.iso.datetime(),
  /** Ms until the next heartbeat; a controller counts an instance gone after three missed. */
  heartbeatMs: z.number().int().positive(),
});
export type AppliedReport = z.output<typeof AppliedReport>;

/** KV bucket and key of the current policy, and the config subjects (below the mesh prefix). */
export const POLICY_BUCKET = "mesh-policy";
export const POLICY_CURRENT_KEY = "current";
export const policyVersionKey = (version: number) => `versions.${version}`;
export const configSubject = (prefix: string) => `${prefix}.config.policy`;
export const appliedSubject = (prefix: string) => `${prefix}.config.applied`;
/** A controller asks every runtime to report now (after it restarts). */
export const reportRequestSubject = (prefix: string) => `${prefix}.config.report`;
