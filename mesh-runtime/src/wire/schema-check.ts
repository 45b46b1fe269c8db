import type { ZodSafeParseResult, ZodType } from "zod";

/** A compiled acceptance test: true only for a value the schema accepts unchanged. */
type Accepts = (value: unknown) => boolean;

/** The parts of zod 4's schema definitions (`schema._zod.def`) a check is compiled from. */
interface Def {
  readonly type: string;
  readonly coerce?: boolean;
  readonly checks?: readonly { readonly _zod: { readonly def: CheckDef } }[];
  readonly shape?: Readonly<Record<string, ZodType>>;
  readonly catchall?: ZodType;
  readonly innerType?: ZodType;
}
interface CheckDef {
  readonly check: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly length?: number;
  readonly value?: unknown;
  readonly inclusive?: boolean;
  readonly format?: string;
}

const defOf = (schema: ZodType) => schema._zod.def as unknown as Def;
const hasOwn = Object.prototype.hasOwnProperty;

/** Strings with length bounds (zod counts UTF-16 code units, as `length` does). */
function compileString(def: Def): Accepts | undefined {
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  for (const { _zod } of def.checks ?? []) {
    const c = _zod.def;
    if (c.check === "min_length" && typeof c.minimum === "number") min = Math.max(min, c.minimum);
    else if (c.check === "max_length" && typeof c.maximum === "number") max = Math.min(max, c.maximum);
    else if (c.check === "length_equals" && typeof c.length === "number") {
      min = Math.max(min, c.length);
      max = Math.min(max, c.length);
    } else return undefined;
  }
  return (v) => typeof v === "string" && v.length >= min && v.length <= max;
}

/** Finite numbers (zod refuses NaN and infinities), safe integers, and bounds. */
function compileNumber(def: Def): Accepts | undefined {
  let int = false;
  let low = Number.NEGATIVE_INFINITY;
  let lowInclusive = true;
  let high = Number.POSITIVE_INFINITY;
  let highInclusive = true;
  for (const { _zod } of def.checks ?? []) {
    const c = _zod.def;
    const inclusive = c.inclusive === true;
    if (c.check === "number_format" && c.format === "safeint") int = true;
    else if (c.check === "greater_than" && typeof c.value === "number") {
      // every bound applies: the strictest one is kept
      if (c.value > low) [low, lowInclusive] = [c.value, inclusive];
      else if (c.value === low) lowInclusive &&= inclusive;
    } else if (c.check === "less_than" && typeof c.value === "number") {
      if (c.value < high) [high, highInclusive] = [c.value, inclusive];
      else if (c.value === high) highInclusive &&= inclusive;
    } else return undefined;
  }
  return (v) =>
    typeof v === "number" &&
    Number.isFinite(v) &&
    (!int || Number.isSafeInteger(v)) &&
    (lowInclusive ? v >= low : v > low) &&
    (highInclusive ? v <= high : v < high);
}

interface Field {
  readonly key: string;
  readonly accepts: Accepts;
  readonly optional: boolean;
}

/**
 * Plain objects whose keys are all in the shape (so a strict object's refusal of others and a
 * plain object's stripping of them never come into it), each value accepted by its field.
 */
function compileObject(def: Def): Accepts | undefined {
  const catchall = def.catchall === undefined ? undefined : defOf(def.catchall).type;
  if (catchall !== undefined && catchall !== "never") return undefined;
  const fields: Field[] = [];
  for (const [key, schema] of Object.entries(def.shape ?? {})) {
    const field = defOf(schema);
    const optional = field.type === "optional" && field.innerType !== undefined;
    const accepts = compile(optional ? (field.innerType as ZodType) : schema);
    if (accepts === undefined) return undefined;
    fields.push({ key, accepts, optional });
  }
  return (v) => {
    if (typeof v !== "object" || v === null) return false;
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return false;
    const o = v as Record<string, unknown>;
    let present = 0;
    for (const { key, accepts, optional } of fields) {
      if (hasOwn.call(o, key)) {
        if (!accepts(o[key])) return false;
        present++;
      } else if (!optional) return false;
    }
    // no key beyond the shape's
    let keys = 0;
    for (const _ in o) keys++;
    return keys === present;
  };
}

function compile(schema: ZodType): Accepts | undefined {
  const def = defOf(schema);
  if (def.coerce === true) return undefined;
  switch (def.type) {
    case "string":
      return compileString(def);
    case "number":
      return compileNumber(def);
    case "boolean":
      return (def.checks?.length ?? 0) === 0 ? (v) => typeof v === "boolean" : undefined;
    case "object":
      return (def.checks?.length ?? 0) === 0 ? compileObject(def) : undefined;
    default:
      return undefined;
  }
}

// per schema, compiled on first use; null: the schema has a part no check here is exact for
const compiled = new WeakMap<ZodType, Accepts | null>();

/**
 * `schema.safeParse(value)`, exactly, at a fraction of its cost on the hot path. A schema made
 * only of objects (strict or plain), strings, numbers and booleans, with optional fields and
 * length, bound and integer checks, is compiled once into a plain test; a value it accepts is
 * one zod accepts unchanged (nothing to strip, coerce or transform), so it is the data, as
 * zod's copy would equal it. Any other schema, and any value the test refuses, goes to zod,
 * which gives the verdict and its issues.
 */
export function safeParseExact(schema: ZodType, value: unknown): ZodSafeParseResult<unknown> {
  let accepts = compiled.get(schema);
  if (accepts === undefined) {
    accepts = compile(schema) ?? null;
    compiled.set(schema, accepts);
  }
  if (accepts?.(value)) return { success: true, data: value };
  return schema.safeParse(value);
}
