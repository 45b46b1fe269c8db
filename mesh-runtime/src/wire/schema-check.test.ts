import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ZodType, z } from "zod";
import { safeParseExact } from "./schema-check.js";

const Order = z.strictObject({
  orderId: z.string().max(64),
  sku: z.string().min(1).max(8),
  quantity: z.number().int().positive(),
  priceCents: z.number().int().nonnegative().max(1_000),
  ratio: z.number().gt(0).gte(0).lt(1),
  gift: z.boolean(),
  note: z.string().length(3).optional(),
  to: z.object({ city: z.string() }),
});
const VALID = {
  orderId: "o-1",
  sku: "SKU",
  quantity: 3,
  priceCents: 0,
  ratio: 0.5,
  gift: false,
  note: "abc",
  to: { city: "Lyon" },
};

// values a field may take: at and past every bound, of every JSON type
const PROBES: readonly unknown[] = [
  "",
  "x",
  "abc",
  "abcdefgh",
  "abcdefghi",
  "a".repeat(64),
  "a".repeat(65),
  "é",
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  1_000,
  1_001,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  true,
  false,
  null,
  [],
  ["abc"],
  {},
  { city: "Lyon" },
  { city: "Lyon", extra: 1 },
  { city: 1 },
];

/** The same verdict as zod, and on success data equal to zod's. */
function assertSame(schema: ZodType, value: unknown): void {
  const exact = safeParseExact(schema, value);
  const zod = schema.safeParse(value);
  assert.equal(exact.success, zod.success, JSON.stringify(value));
  if (zod.success) assert.deepEqual(exact.data, zod.data);
  else assert.deepEqual(exact.error?.issues, zod.error.issues);
}

describe("safeParseExact", () => {
  it("accepts what zod accepts, as the value itself", () => {
    const value = structuredClone(VALID);
    const result = safeParseExact(Order, value);
    assert.ok(result.success);
    assert.equal(result.data, value);
    assert.deepEqual(result.data, Order.parse(VALID));
  });

  it("gives zod's verdict for every field at and past its bounds, missing, or of another type", () => {
    for (const key of Object.keys(VALID)) {
      for (const probe of PROBES) assertSame(Order, { ...VALID, [key]: probe });
      const { [key]: _, ...missing } = VALID as Record<string, unknown>;
      assertSame(Order, missing);
    }
  });

  it("gives zod's verdict on extra keys, for strict and plain objects, and on what is not an object", () => {
    assertSame(Order, { ...VALID, extra: 1 });
    const plain = z.object({ a: z.string() });
    assertSame(plain, { a: "x", b: 1 });
    assertSame(plain, { a: "x" });
    for (const probe of PROBES) assertSame(Order, probe);
    assertSame(Order, JSON.parse(`{"__proto__": 1, ${JSON.stringify(VALID).slice(1)}`));
    assertSame(Order, Object.assign(Object.create({ inherited: 1 }), VALID));
  });

  it("leaves to zod what it cannot check exactly (transforms, coercion, formats, refinements)", () => {
    const schemas: ZodType[] = [
      z.string().trim(),
      z.string().email(),
      z.coerce.number(),
      z.number().multipleOf(2),
      z.looseObject({ a: z.string() }),
      z.object({ a: z.string() }).refine((o) => o.a !== "x"),
      z.object({ a: z.string().default("d") }),
      z.object({ a: z.string().transform((s) => s.length) }),
    ];
    for (const schema of schemas) {
      for (const probe of [" x ", "x", "a@b.co", 3, "4", { a: "x" }, { a: " y ", b: 2 }, {}]) {
        assertSame(schema, probe);
      }
    }
  });
});
