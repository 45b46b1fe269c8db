// Issue 18: every instance also listens on its version subjects (queue group per major) and its
// instance subjects, served by the same pipeline as the plain subject; the rendered accounts export
// them to, and import them for, exactly the callers the access rules allow.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { errors, type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { defineContract, type HandlerContext, type Mesh } from "@switchyard/runtime";
import { instanceSubject, versionSubject } from "@switchyard/schemas";
import { z } from "zod";
import { scratchDir, suiteScope } from "./fixtures/processes.js";
import { applyPolicy, meshAs, type RenderedBroker, startRenderedBroker } from "./fixtures/rendered-broker.js";

const Seen = z.object({ caller: z.string().nullable(), verified: z.boolean(), instance: z.string() });
const reportsCaller = { input: z.object({}), output: Seen };
const ledger = defineContract({
  name: "ledger",
  version: "2.1.0",
  endpoints: { read: reportsCaller, write: reportsCaller },
});

const POLICY = `
services:
  ledger: {}
  orders: {}
  stranger: {}
access:
  default: deny
  rules:
    - { from: orders, to: ledger, endpoints: [read] }
`;

/** A raw request as a client written from PROTOCOL.md sends it; resolves to the decoded reply. */
async function rawRequest(nc: NatsConnection, subject: string, timeoutMs = 2_000): Promise<unknown> {
  const h = natsHeaders();
  h.set("Mesh-Timeout", String(timeoutMs));
  const reply = await nc.request(subject, "{}", { timeout: timeoutMs, headers: h });
  return reply.json();
}

describe("version and instance subjects on a broker running the rendered accounts", () => {
  const scope = suiteScope();
  let broker: RenderedBroker;
  let ledgerMesh: Mesh;
  const served = { read: 0, write: 0 };

  before(async () => {
    const policyFile = join(scratchDir(scope, "policy"), "policy.yaml");
    writeFileSync(policyFile, POLICY);
    broker = await startRenderedBroker(scope, policyFile);
    await applyPolicy(scope, broker, policyFile);
    ledgerMesh = await meshAs(scope, broker, "ledger");
    const seen = (ctx: HandlerContext) => ({
      caller: ctx.caller ?? null,
      verified: ctx.callerVerified,
      instance: ledgerMesh.instanceId,
    });
    await ledgerMesh.serve(ledger, {
      read: (_input, ctx) => {
        served.read++;
        return seen(ctx);
      },
      write: (_input, ctx) => {
        served.write++;
        return seen(ctx);
      },
    });
  });

  it("an allowed caller reaches the endpoint on its plain, version and instance subjects, vouched for", async (t) => {
    const nc = await broker.connect(t, "orders");
    const expected = { caller: "orders", verified: true, instance: ledgerMesh.instanceId };
    for (const subject of [
      "mesh.svc.ledger.read",
      versionSubject("mesh", "ledger", 2, "read"),
      instanceSubject("mesh", "ledger", ledgerMesh.instanceId, "read"),
    ]) {
      assert.deepEqual(await rawRequest(nc, subject), expected, subject);
    }
    const orders = await meshAs(t, broker, "orders");
    assert.deepEqual(await orders.client(ledger).read({}), expected, "the runtime's own call");
    assert.equal(served.read, 4);
  });

  it("an endpoint the rules do not allow, another major, or an unknown caller: refused by the broker", async (t) => {
    const before = { ...served };
    const orders = await broker.connect(t, "orders");
    const stranger = await broker.connect(t, "stranger");
    // the callee itself: only an import may deliver to its endpoints, on any of the three subjects
    const own = await broker.connect(t, "ledger");
    const attempts: Array<[NatsConnection, string]> = [
      [orders, versionSubject("mesh", "ledger", 2, "write")],
      [orders, instanceSubject("mesh", "ledger", ledgerMesh.instanceId, "write")],
      [stranger, versionSubject("mesh", "ledger", 2, "read")],
      [stranger, instanceSubject("mesh", "ledger", ledgerMesh.instanceId, "read")],
      [own, versionSubject("mesh", "ledger", 2, "read")],
      [own, instanceSubject("mesh", "ledger", ledgerMesh.instanceId, "read")],
    ];
    for (const [nc, subject] of attempts) {
      const e = await rawRequest(nc, subject).catch((x: unknown) => x);
      assert.ok(
        e instanceof Error && /Permissions Violation for Publish/.test(e.message),
        `${subject}: ${String(e)}`,
      );
    }
    // a major nobody serves gets no answer, even for an allowed endpoint (across an import the
    // broker cannot tell the caller there are no responders)
    const e = await rawRequest(orders, versionSubject("mesh", "ledger", 3, "read"), 300).catch(
      (x: unknown) => x,
    );
    assert.ok(e instanceof errors.TimeoutError || e instanceof errors.NoRespondersError, String(e));
    assert.deepEqual(served, before, "nothing reached the handlers");
  });
});
