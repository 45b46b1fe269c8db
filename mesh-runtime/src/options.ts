import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
import {
  CallSettings,
  Criticality,
  DEFAULT_PREFIX,
  IDEMPOTENCY_KEY_PATTERN,
  issueDetails,
  MAX_CALL_TIMEOUT_MS,
  NAME_PATTERN,
  NAME_RULE,
  POLICY_BUCKET,
  RetryPolicy,
  RouteHeaderName,
  RouteHeaderValue,
  ServiceName,
  SubjectPrefix,
  TenantId,
} from "@switchyard/schemas";
import type { Logger } from "pino";
import { z } from "zod";
import { MeshError } from "./errors.js";
import { type EffectiveSettings, overlaySettings } from "./policy/resolved-settings.js";

// Every default of the mesh options, and of the call settings they share with the policy, is set
// in this file; the wire's own names (the subject prefix, the policy bucket) come from schemas, as
// do the call settings' names and bounds (`CallSettings`, the policy's).
const Millis = z.number().int().positive().max(MAX_CALL_TIMEOUT_MS);

/** What a call runs with when neither these options, the policy nor the contract says otherwise. */
export const CALL_DEFAULTS: EffectiveSettings = deepFreeze({
  timeoutMs: 5_000,
  attemptTimeoutMs: undefined,
  idempotent: false,
  retry: {
    maxAttempts: 3,
    backoff: { baseMs: 25, maxMs: 1_000 },
    budget: { ratio: 0.2, minPerSecond: 10, windowMs: 10_000 },
  },
  breaker: {
    enabled: true,
    failureRatio: 0.5,
    minimumCalls: 20,
    windowMs: 10_000,
    openMs: 5_000,
    halfOpenProbes: 3,
  },
  concurrency: {
    enabled: true,
    mode: "fixed",
    limit: 1_000,
    minLimit: 1,
    maxLimit: 10_000,
    weight: 1,
    criticality: "default",
    maxCriticality: "sheddable",
  },
  balance: "p2c-ewma",
  hedge: { afterMs: 50, max: 0 },
  outlier: {
    enabled: true,
    failureRatio: 0.5,
    minimumCalls: 10,
    windowMs: 10_000,
    ejectMs: 10_000,
    maxEjectedShare: 0.5,
  },
  maxRequestBytes: undefined,
});

/** How long a deduplicating endpoint keeps a reply when its contract says only `dedupe: true`. */
export const DEFAULT_DEDUPE_TTL_MS = 600_000;

/**
 * The service's NATS identity. A file is read again on every (re)connect, so replacing it
 * rotates the credential without a restart (`switchyard authz render` writes `<service>.nk`).
 */
const Auth = z.union([
  z.strictObject({ user: z.string().min(1), pass: z.string() }),
  z.strictObject({ token: z.string().min(1) }),
  z.strictObject({ nkeySeed: z.string().min(1) }),
  z.strictObject({ nkeyFile: z.string().min(1) }),
]);
export type AuthOptions = z.output<typeof Auth>;

const hasMethod = (v: unknown, method: string): boolean =>
  typeof v === "object" && v !== null && typeof (v as Record<string, unknown>)[method] === "function";

const isLogger = (v: unknown): v is Logger =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as Logger).child === "function" &&
  typeof (v as Logger).info === "function";

export const MeshOptions = z.strictObject({
  /** This process's service name: its queue group, `Mesh-Caller`, connection name. */
  name: ServiceName,
  /** NATS URLs; default `NATS_URL` from the environment, else nats://127.0.0.1:4222. */
  servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /**
   * Credentials; default from the environment: `NATS_NKEY` (a seed file), `NATS_USER` with
   * `NATS_PASSWORD`, or `NATS_TOKEN`. None: connect without (a server with no auth).
   */
  auth: Auth.optional(),
  /** First subject tokens of every mesh subject. */
  prefix: SubjectPrefix.default(DEFAULT_PREFIX),
  /** Where replies come back; default `_INBOX.<name>`. */
  inboxPrefix: SubjectPrefix.optional(),
  /** A pino logger to use; default a new one at `logLevel`. */
  logger: z.custom<Logger>(isLogger, "must be a pino logger").optional(),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  connectTimeoutMs: Millis.max(60_000).default(5_000),
  /** Connect only to `servers`, never to the cluster peers the server announces. */
  ignoreClusterUpdates: z.boolean().default(false),
  /** Bound on `close()`: how long in-flight requests may take to finish. */
  drainTimeoutMs: Millis.default(30_000),
  /** Cap on any inbound `Mesh-Timeout`, so a caller cannot pin a handler for hours. */
  maxServeTimeoutMs: Millis.default(MAX_CALL_TIMEOUT_MS),
  /** The mesh-wide call settings, over `CALL_DEFAULTS`; the policy's levels go over these. */
  calls: CallSettings.prefault({}).transform((calls) => overlaySettings(CALL_DEFAULTS, calls)),
  /** The quota store; used only when the policy has quota rules. */
  redis: z
    .strictObject({
      /** `redis://host:port` of one server; default `REDIS_URL` from the environment. */
      url: z.string().min(1).optional(),
      /** Startup nodes of a Redis Cluster, instead of `url`. */
      clusterNodes: z.array(z.string().min(1)).min(1).optional(),
      /** Slower than this is a failure: the rules' store-failure modes decide. */
      commandTimeoutMs: z.number().int().min(1).max(10_000).default(100),
      /** Failures in a row after which Redis is skipped for `cooldownMs`. */
      failureThreshold: z.number().int().min(1).max(1_000).default(3),
      cooldownMs: z.number().int().min(10).max(600_000).default(1_000),
    })
    .prefault({}),
  telemetry: z
    .strictObject({
      /** Where spans go; default the global one (`@switchyard/telemetry` or any SDK sets it). */
      tracerProvider: z
        .custom<TracerProvider>((v) => hasMethod(v, "getTracer"), "must be an OpenTelemetry TracerProvider")
        .optional(),
      /** Where metrics go; default the global one, as it is when the mesh connects. */
      meterProvider: z
        .custom<MeterProvider>((v) => hasMethod(v, "getMeter"), "must be an OpenTelemetry MeterProvider")
        .optional(),
      /** Label metrics with `mesh.tenant`: a series per tenant, so opt-in. Spans always carry it. */
      tenantLabel: z.boolean().default(false),
    })
    .prefault({}),
  policy: z
    .strictObject({
      /** Follow the mesh policy (KV and the config subject). Tools such as the CLI turn this off. */
      follow: z.boolean().default(true),
      /** JetStream KV bucket holding the policy (key `current`). */
      bucket: z.string().regex(NAME_PATTERN, NAME_RULE).default(POLICY_BUCKET),
      /** How often KV is re-read (healing a missed push) and a heartbeat is reported. */
      refreshMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
    })
    .prefault({}),
});

export type MeshOptionsInput = z.input<typeof MeshOptions>;
export type ResolvedMeshOptions = Readonly<
  Omit<z.output<typeof MeshOptions>, "servers" | "inboxPrefix"> & {
    servers: readonly string[];
    inboxPrefix: string;
  }
>;

export const CallOptions = z.strictObject({
  /** Tenant the call is made for; inherited from the handler's request inside `ctx.call()`. */
  tenant: TenantId.optional(),
  /** Deadline in ms; never later than the parent request's deadline. */
  timeoutMs: CallSettings.shape.timeoutMs,
  attemptTimeoutMs: CallSettings.shape.attemptTimeoutMs,
  /** Declares the endpoint safe to run twice (a contract's `idempotent` does the same). */
  idempotent: z.boolean().optional(),
  /** Same on every attempt; default a fresh unique key per logical call. */
  idempotencyKey: z
    .string()
    .regex(IDEMPOTENCY_KEY_PATTERN, "must be 1-128 visible ASCII characters")
    .optional(),
  maxAttempts: RetryPolicy.shape.maxAttempts,
  /**
   * Sent as `Mesh-Criticality`: lower than the callee's policy level it is always honoured, higher
   * only up to the policy's `concurrency.maxCriticality`. Default: the callee's policy decides.
   */
  criticality: Criticality.optional(),
  /** Aborting it settles the call at once with `CANCELLED`. */
  signal: z.instanceof(AbortSignal).optional(),
  /**
   * Inside `ctx.call()`: keep the request's tenant (and its token) and trace, but not its deadline
   * or cancellation, for work that must outlive the request (compensation). Default false.
   */
  detached: z.boolean().optional(),
  /**
   * Route headers for this call and every call its callee makes in turn (`Mesh-Route`): policy
   * routes and mirrors match on them (`match.header`). Names are case-insensitive; at most 16.
   */
  routeHeaders: z
    .record(RouteHeaderName, RouteHeaderValue)
    .refine((h) => Object.keys(h).length <= 16, "at most 16 route headers")
    .optional(),
});
export type CallOptionsInput = z.input<typeof CallOptions>;
export type ResolvedCallOptions = z.output<typeof CallOptions>;

/** A failed parse of what a caller gave: `INVALID_ARGUMENT` carrying the zod issues. */
export function invalidArgument(what: string, error: z.ZodError): MeshError {
  return new MeshError("INVALID_ARGUMENT", `invalid ${what}: ${z.prettifyError(error)}`, {
    details: { issues: issueDetails(error) },
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Validates and defaults mesh options once; the result is a new, frozen object. */
export function parseMeshOptions(input: MeshOptionsInput): ResolvedMeshOptions {
  const parsed = MeshOptions.safeParse(input);
  if (!parsed.success) throw invalidArgument("mesh options", parsed.error);
  const {
    logger,
    telemetry: { tracerProvider, meterProvider, ...telemetry },
    ...rest
  } = parsed.data;
  const servers = rest.servers ?? process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
  const auth = rest.auth ?? authFromEnv(process.env);
  const redisUrl = rest.redis.url ?? process.env["REDIS_URL"];
  const resolved = deepFreeze({
    ...rest,
    ...(auth === undefined ? {} : { auth }),
    telemetry,
    redis: { ...rest.redis, ...(redisUrl === undefined ? {} : { url: redisUrl }) },
    servers: typeof servers === "string" ? servers.split(",").map((s) => s.trim()) : [...servers],
    inboxPrefix: rest.inboxPrefix ?? `_INBOX.${rest.name}`,
  });
  // the logger and the providers are the caller's objects: referenced, never frozen
  return Object.freeze({
    ...resolved,
    ...(logger === undefined ? {} : { logger }),
    telemetry: Object.freeze({
      ...resolved.telemetry,
      ...(tracerProvider === undefined ? {} : { tracerProvider }),
      ...(meterProvider === undefined ? {} : { meterProvider }),
    }),
  });
}

/** The standard NATS variables, as the `nats` CLI reads them. */
function authFromEnv(env: NodeJS.ProcessEnv): AuthOptions | undefined {
  if (env["NATS_NKEY"]) return { nkeyFile: env["NATS_NKEY"] };
  if (env["NATS_USER"]) return { user: env["NATS_USER"], pass: env["NATS_PASSWORD"] ?? "" };
  if (env["NATS_TOKEN"]) return { token: env["NATS_TOKEN"] };
  return undefined;
}

const NO_OPTIONS: ResolvedCallOptions = Object.freeze({});

/** Validates per-call options; absent options cost nothing. */
export function parseCallOptions(input: CallOptionsInput | undefined): ResolvedCallOptions {
  if (input === undefined) return NO_OPTIONS;
  const parsed = CallOptions.safeParse(input);
  if (!parsed.success) throw invalidArgument("call options", parsed.error);
  return parsed.data;
}
