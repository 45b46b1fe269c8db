import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { CallSettings, POLICY_BUCKET } from "@switchyard/schemas";
import { isMeshError } from "./errors.js";
import { CALL_DEFAULTS, type MeshOptionsInput, parseCallOptions, parseMeshOptions } from "./options.js";

const ENV = ["NATS_URL", "NATS_NKEY", "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN", "REDIS_URL"] as const;

/** The `INVALID_ARGUMENT` a parse throws, with the paths of its issues. */
function refusal(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    assert.ok(isMeshError(error), "a MeshError");
    assert.equal(error.code, "INVALID_ARGUMENT");
    return (error.details as { issues: { path: string[] }[] }).issues.map((i) => i.path.join("."));
  }
  assert.fail("the parse was expected to throw");
}

function isDeepFrozen(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeepFrozen);
}

describe("mesh options", () => {
  const saved = new Map<string, string | undefined>();
  beforeEach(() => {
    for (const name of ENV) {
      saved.set(name, process.env[name]);
      delete process.env[name];
    }
  });
  afterEach(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  test("a name alone gives every default, the call settings CALL_DEFAULTS", () => {
    const o = parseMeshOptions({ name: "orders" });
    assert.deepEqual(o.calls, CALL_DEFAULTS);
    assert.deepEqual(o.servers, ["nats://127.0.0.1:4222"]);
    assert.equal(o.prefix, "mesh");
    assert.equal(o.inboxPrefix, "_INBOX.orders");
    assert.equal(o.policy.bucket, POLICY_BUCKET);
    assert.equal(o.policy.follow, true);
    assert.equal(o.auth, undefined);
    assert.equal(o.redis.url, undefined);
    assert.equal(o.telemetry.tenantLabel, false);
  });

  test("CALL_DEFAULTS are within the bounds the policy allows", () => {
    assert.ok(CallSettings.safeParse(CALL_DEFAULTS).success);
  });

  test("calls take the policy's names and are overlaid field by field on the defaults", () => {
    const o = parseMeshOptions({
      name: "orders",
      calls: {
        timeoutMs: 1_000,
        retry: { backoff: { baseMs: 5, maxMs: 50 }, budget: { ratio: 1, minPerSecond: 1, windowMs: 1_000 } },
        breaker: { openMs: 100 },
        concurrency: { enabled: false },
      },
    });
    assert.equal(o.calls.timeoutMs, 1_000);
    assert.equal(o.calls.retry.maxAttempts, CALL_DEFAULTS.retry.maxAttempts);
    assert.deepEqual(o.calls.retry.backoff, { baseMs: 5, maxMs: 50 });
    assert.deepEqual(o.calls.retry.budget, { ratio: 1, minPerSecond: 1, windowMs: 1_000 });
    assert.deepEqual(o.calls.breaker, { ...CALL_DEFAULTS.breaker, openMs: 100 });
    assert.deepEqual(o.calls.concurrency, { ...CALL_DEFAULTS.concurrency, enabled: false });
  });

  test("bounds are the policy's: out-of-range values are refused, each named by its path", () => {
    const paths = refusal(() =>
      parseMeshOptions({
        name: "orders",
        connectTimeoutMs: 0,
        calls: {
          timeoutMs: 300_001,
          retry: { maxAttempts: 21, backoff: { baseMs: 100, maxMs: 10 } },
          breaker: { windowMs: 99 },
        },
      }),
    );
    assert.deepEqual(paths.sort(), [
      "calls.breaker.windowMs",
      "calls.retry.backoff.baseMs",
      "calls.retry.maxAttempts",
      "calls.timeoutMs",
      "connectTimeoutMs",
    ]);
  });

  test("unknown keys, the old call-setting names included, are refused", () => {
    const input = {
      name: "orders",
      timeoutMS: 5,
      calls: { retryBudget: { ratio: 1 }, retry: { baseDelayMs: 5 } },
    } as unknown as MeshOptionsInput;
    assert.deepEqual(refusal(() => parseMeshOptions(input)).sort(), ["", "calls", "calls.retry"]);
    assert.deepEqual(
      refusal(() => parseMeshOptions({ name: "not a name" })),
      ["name"],
    );
  });

  test("the result is a new object, frozen all the way down; the caller's input is untouched", () => {
    const input: MeshOptionsInput = {
      name: "orders",
      servers: ["nats://a:4222"],
      calls: { retry: { maxAttempts: 2 } },
      redis: { url: "redis://r:6379" },
    };
    const before = structuredClone(input);
    const o = parseMeshOptions(input);
    assert.deepEqual(input, before);
    assert.ok(!Object.isFrozen(input) && !Object.isFrozen(input.calls));
    assert.ok(isDeepFrozen(o));
    assert.notEqual(o.servers, input.servers);
  });

  test("the caller's logger and providers are kept by reference, not frozen", () => {
    const tracerProvider = { getTracer: () => ({}) } as never;
    const o = parseMeshOptions({ name: "orders", telemetry: { tracerProvider } });
    assert.equal(o.telemetry.tracerProvider, tracerProvider);
    assert.ok(!Object.isFrozen(tracerProvider));
  });

  test("NATS_URL, REDIS_URL and the NATS credentials come from the environment when not given", () => {
    process.env["NATS_URL"] = "nats://one:4222, nats://two:4222";
    process.env["REDIS_URL"] = "redis://env:6379";
    process.env["NATS_USER"] = "svc";
    process.env["NATS_PASSWORD"] = "secret";
    const o = parseMeshOptions({ name: "orders" });
    assert.deepEqual(o.servers, ["nats://one:4222", "nats://two:4222"]);
    assert.equal(o.redis.url, "redis://env:6379");
    assert.deepEqual(o.auth, { user: "svc", pass: "secret" });
    process.env["NATS_NKEY"] = "/seeds/orders.nk";
    assert.deepEqual(parseMeshOptions({ name: "orders" }).auth, { nkeyFile: "/seeds/orders.nk" });
    delete process.env["NATS_NKEY"];
    delete process.env["NATS_USER"];
    process.env["NATS_TOKEN"] = "t0k";
    assert.deepEqual(parseMeshOptions({ name: "orders" }).auth, { token: "t0k" });
    // given options win over the environment
    const given = parseMeshOptions({ name: "orders", servers: "nats://given:4222", auth: { token: "x" } });
    assert.deepEqual(given.servers, ["nats://given:4222"]);
    assert.deepEqual(given.auth, { token: "x" });
  });
});

describe("call options", () => {
  test("absent options cost nothing: the same frozen empty object", () => {
    assert.equal(parseCallOptions(undefined), parseCallOptions(undefined));
    assert.ok(Object.isFrozen(parseCallOptions(undefined)));
  });

  test("bounds are the call settings' and the idempotency key's", () => {
    assert.deepEqual(
      refusal(() =>
        parseCallOptions({ timeoutMs: 300_001, maxAttempts: 0, idempotencyKey: "has space", tenant: "-x" }),
      ).sort(),
      ["idempotencyKey", "maxAttempts", "tenant", "timeoutMs"],
    );
    assert.deepEqual(parseCallOptions({ timeoutMs: 300_000, maxAttempts: 20, idempotencyKey: "k-1" }), {
      timeoutMs: 300_000,
      maxAttempts: 20,
      idempotencyKey: "k-1",
    });
  });
});
