// Issue 18: policy `mirrors` send a share of an endpoint's calls also to another version. The copy
// reaches the mirror; its reply, its failure or its absence never reaches the caller, and it is
// counted in its own metric. Real nats-server, controller and meshes.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { type Attributes, createNoopMeter, type Meter, type MeterProvider } from "@opentelemetry/api";
import { defineContract, type Mesh } from "@switchyard/runtime";
import type { PolicyInput } from "@switchyard/schemas";
import { z } from "zod";
import { controllerFor } from "./fixtures/controller.js";
import { waitFor } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { suiteScope } from "./fixtures/processes.js";

const Answer = z.object({ version: z.string() });
const ledgerOf = (version: string) =>
  defineContract({
    name: "ledger",
    version,
    endpoints: { post: { input: z.object({ n: z.number() }), output: Answer } },
  });
const ledger = ledgerOf("1.0.0");

/** A meter provider that keeps every counter increment, so a test can read the mesh's metrics. */
function recordingMeters() {
  const adds: Array<{ name: string; value: number; attrs: Attributes }> = [];
  const meter: Meter = Object.create(createNoopMeter());
  meter.createCounter = (name: string) =>
    ({ add: (value: number, attrs: Attributes = {}) => adds.push({ name, value, attrs }) }) as never;
  const provider: MeterProvider = { getMeter: () => meter };
  const total = (name: string, attrs: Attributes) =>
    adds
      .filter((a) => a.name === name && Object.entries(attrs).every(([k, v]) => a.attrs[k] === v))
      .reduce((sum, a) => sum + a.value, 0);
  return { provider, total };
}

describe("mirrors: copies of calls to another version", () => {
  const scope = suiteScope();
  let nats: NatsNode;
  let admin: Mesh;
  let caller: Mesh;
  const meters = recordingMeters();
  const instances: Mesh[] = [];
  /** What each version's handler saw: the call's number and its Idempotency-Key. */
  const seen: Record<
    string,
    Array<{ n: number; key: string | undefined; caller: string | undefined; mirrored: boolean }>
  > = {
    "1.0.0": [],
    "2.0.0": [],
  };

  async function apply(document: PolicyInput): Promise<void> {
    const reply = (await admin.call("controller", "apply", { document })) as { version: number };
    for (const mesh of [caller, ...instances]) {
      await waitFor(`${mesh.name} to run policy ${reply.version}`, () => mesh.policyVersion >= reply.version);
    }
  }

  const reset = () => {
    for (const list of Object.values(seen)) list.length = 0;
  };

  before(async () => {
    nats = await startNats(scope, { jetstream: true });
    await controllerFor(scope, nats.url);
    admin = await meshFor(scope, nats.url, "admin", { policy: { follow: false } });
    caller = await meshFor(scope, nats.url, "caller", { telemetry: { meterProvider: meters.provider } });
    for (const version of ["1.0.0", "2.0.0"]) {
      const mesh = await meshFor(scope, nats.url, "ledger");
      await mesh.serve(ledgerOf(version), {
        post: ({ n }, ctx) => {
          seen[version]?.push({ n, key: ctx.idempotencyKey, caller: ctx.caller, mirrored: ctx.mirrored });
          // the new version is broken: only its mirror may find out
          if (version === "2.0.0") throw new Error("2.0.0 cannot post yet");
          return { version };
        },
      });
      instances.push(mesh);
    }
  });

  it("every call also reaches the mirror, which fails, and the caller sees only the primary's replies", async () => {
    await apply({
      routes: [{ service: "ledger", to: "1.x" }],
      mirrors: [{ service: "ledger", endpoint: "post", to: "2.x", percent: 100 }],
    });
    reset();
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, n) =>
        caller.client(ledger).post({ n }, { idempotencyKey: `call-${n}` }),
      ),
    );
    assert.deepEqual(new Set(replies.map((r) => r.version)), new Set(["1.0.0"]));
    await waitFor("100 copies at the mirror", () => seen["2.0.0"]?.length === 100);
    const copies = seen["2.0.0"] ?? [];
    assert.deepEqual(
      copies.map((c) => c.n).sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, n) => n),
    );
    // the copy has its own key: a replay store never mixes the copy's answer with the call's
    assert.ok(copies.every((c) => c.key !== undefined && !c.key.startsWith("call-")));
    assert.ok(copies.every((c) => c.caller === "caller" && c.mirrored));
    assert.equal(seen["1.0.0"]?.length, 100, "each call ran once on the primary");
    assert.ok(seen["1.0.0"]?.every((c) => !c.mirrored));
    await waitFor(
      "the mirror's outcomes counted",
      () =>
        meters.total("mesh.client.mirrored", { "mesh.version.major": 2, "error.type": "INTERNAL" }) === 100,
    );
    assert.equal(meters.total("mesh.client.routed", { "mesh.version.major": 1 }), 100);
  });

  it("a mirror with no instances costs the caller nothing; a share mirrors about that share", async () => {
    await apply({
      routes: [{ service: "ledger", to: "1.x" }],
      mirrors: [{ service: "ledger", to: "7.x", percent: 100 }],
    });
    reset();
    for (let n = 0; n < 20; n++) assert.ok(await caller.client(ledger).post({ n }));
    await waitFor(
      "copies to 7.x counted",
      () =>
        meters.total("mesh.client.mirrored", { "mesh.version.major": 7, "error.type": "NO_RESPONDERS" }) ===
        20,
    );

    await apply({
      routes: [{ service: "ledger", to: "1.x" }],
      mirrors: [{ service: "ledger", to: "2.x", percent: 20 }],
    });
    reset();
    const before = meters.total("mesh.client.mirrored", { "mesh.version.major": 2 });
    for (let i = 0; i < 10; i++) {
      await Promise.all(Array.from({ length: 100 }, (_, n) => caller.client(ledger).post({ n })));
    }
    // a copy is counted once its reply is back, so after the mirror's handler saw it
    const settled = () => meters.total("mesh.client.mirrored", { "mesh.version.major": 2 }) - before;
    await waitFor("every copy that arrived to be counted", () => settled() === seen["2.0.0"]?.length);
    const share = (settled() / 1_000) * 100;
    assert.ok(Math.abs(share - 20) <= 5, `mirrored ${share}% of 1,000 calls`);
  });
});
