import { z } from "zod";
import { CallSettings } from "./call-settings.js";
import { EndpointName, ServiceName } from "./subjects.js";

/** One endpoint of a contract: the shapes of its request and reply bodies (JSON). */
export interface EndpointSpec<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  readonly input: I;
  readonly output: O;
  /** Safe to run twice: the caller may retry it after a timeout or an INTERNAL error. */
  readonly idempotent?: boolean;
  /** The endpoint's default deadline in ms when the caller gives none. */
  readonly timeoutMs?: number;
  /**
   * Not naturally idempotent, but made safe to retry: the callee keeps each logical call's reply
   * (by `Idempotency-Key`, for `ttlMs`, default 10 minutes) in Redis and answers repeats with it.
   */
  readonly dedupe?: boolean | { readonly ttlMs: number };
  readonly description?: string;
}

export type EndpointSpecs = Readonly<Record<string, EndpointSpec>>;

/** A service's name, version and endpoints, shared by its callers and its instances. */
export interface Contract<E extends EndpointSpecs = EndpointSpecs> {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly endpoints: E;
}

/** What a caller passes for endpoint `K`. */
export type InputOf<E extends EndpointSpec> = z.input<E["input"]>;
/** What a caller gets back from endpoint `K`. */
export type OutputOf<E extends EndpointSpec> = z.output<E["output"]>;

const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

const ContractMeta = z.strictObject({
  name: ServiceName,
  version: z.string().regex(SEMVER, "must be a semantic version such as 1.0.0"),
  description: z.string().optional(),
  endpoints: z
    .record(
      EndpointName,
      z.strictObject({
        input: z.custom<z.ZodType>((v) => v instanceof z.ZodType, "must be a zod schema"),
        output: z.custom<z.ZodType>((v) => v instanceof z.ZodType, "must be a zod schema"),
        idempotent: z.boolean().optional(),
        timeoutMs: CallSettings.shape.timeoutMs,
        dedupe: z
          .union([
            z.boolean(),
            z.strictObject({
              ttlMs: z
                .number()
                .int()
                .min(1_000)
                .max(7 * 86_400_000),
            }),
          ])
          .optional(),
        description: z.string().optional(),
      }),
    )
    .refine((e) => Object.keys(e).length > 0, "a contract needs at least one endpoint"),
});

/** A contract declaration checked: frozen, or the problems found (every one, not the first). */
export type CheckedContract<E extends EndpointSpecs> =
  | { readonly ok: true; readonly contract: Contract<E> }
  | { readonly ok: false; readonly error: z.ZodError };

/**
 * Checks a service contract: names follow the NATS micro rule (`^[A-Za-z0-9_-]+$`), the version
 * is semver. A result, not a throw: the runtime's `defineContract` turns a failure into its
 * `INVALID_ARGUMENT` error (this package cannot depend on the runtime).
 */
export function checkContract<const E extends EndpointSpecs>(contract: {
  name: string;
  version: string;
  description?: string;
  endpoints: E;
}): CheckedContract<E> {
  const parsed = ContractMeta.safeParse(contract);
  if (!parsed.success) return { ok: false, error: parsed.error };
  return {
    ok: true,
    contract: Object.freeze({ ...contract, endpoints: Object.freeze({ ...contract.endpoints }) }),
  };
}
