// Issue 18 on a broker that vouches identity (the accounts `switchyard authz render` writes): a
// caller learns its callee's instances from `$SRV.INFO.<callee>`, which reaches the callee's account
// alone (its export) and which no other client may subscribe to, so it balances there too:
// p2c-ewma, hedges to another instance, outlier ejection, and a killed instance costs a call at most
// one slow attempt (across an import a gone instance is silence, not "no responders").
// The adversary's tests sit beside the features: whoever holds the caller's own credentials, or
// another identity's, cannot answer the caller's discovery.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { errors, type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { type Mesh, MeshError, type MeshOptions } from "@switchyard/runtime";
import { instanceSubject } from "@switchyard/schemas";
import { waitFor } from "./fixtures/eventually.js";
import { type Behaviour, many, startPool, tally, untilEjected, workFor } from "./fixtures/instance-pool.js";
import { captureLogs } from "./fixtures/mesh.js";
import { type Cleanup, scratchDir, suiteScope } from "./fixtures/processes.js";
import { meshAs, type RenderedBroker, startRenderedBroker } from "./fixtures/rendered-broker.js";

const POOLS = ["infopool", "slowpool", "hedgepool", "flakypool", "killpool"] as const;
type PoolName = (typeof POOLS)[number];

const POLICY = `
services:
${POOLS.map((p) => `  ${p}: {}`).join("\n")}
  caller: {}
  stranger: {}
access:
  default: deny
  rules:
${POOLS.map((p) => `    - { from: caller, to: ${p} }`).join("\n")}
`;

const BUDGET = { ratio: 10, minPerSecond: 1_000, windowMs: 10_000 };

/** Whether `identity`'s subscription to `subject` is refused by the broker. */
async function subscribeRefused(nc: NatsConnection, subject: string): Promise<boolean> {
  let refused = false;
  nc.subscribe(subject, {
    callback: (err) => {
      if (err instanceof errors.PermissionViolationError) refused = true;
    },
  });
  // the broker answers a refused SUB before the PONG of this flush
  await nc.flush();
  return refused;
}

describe("balancing on a broker running the rendered accounts", () => {
  const scope = suiteScope();
  let broker: RenderedBroker;

  before(async () => {
    const policyFile = join(scratchDir(scope, "policy"), "policy.yaml");
    writeFileSync(policyFile, POLICY);
    broker = await startRenderedBroker(scope, policyFile);
  });

  const pool = (service: PoolName, behaviours: Record<string, Behaviour>) =>
    startPool(scope, broker.nats.url, service, behaviours, {
      auth: { nkeyFile: broker.seedFile(service) },
    });
  const caller = (t: Cleanup, calls: MeshOptions["calls"], more: Partial<MeshOptions> = {}) =>
    meshAs(t, broker, "caller", { policy: { follow: false }, calls, ...more });

  /**
   * Counts the requests reaching `service`'s instance subjects, by instance id: a raw connection in
   * the callee's own account (the caller's may not subscribe there). It never answers.
   */
  async function instanceSpy(service: PoolName) {
    const nc = await broker.connect(scope, service);
    const byId = new Map<string, number>();
    const attempts = new Map<string, Map<number, string>>();
    nc.subscribe(`mesh.inst.${service}.>`, {
      callback: (_err, msg) => {
        const id = msg.subject.split(".")[3] ?? "";
        byId.set(id, (byId.get(id) ?? 0) + 1);
        const key = msg.headers?.get("Idempotency-Key") ?? "";
        // a first attempt carries no Mesh-Attempt: absent means 1 (PROTOCOL §3)
        const attempt = Number(msg.headers?.get("Mesh-Attempt") || "1");
        const byAttempt = attempts.get(key) ?? new Map<number, string>();
        byAttempt.set(attempt, id);
        attempts.set(key, byAttempt);
      },
    });
    await nc.flush();
    return { byId, attempts };
  }

  /** Calls until the caller has sent to every instance's own subject: it balances over them all. */
  async function warm(call: () => Promise<unknown>, byId: Map<string, number>, n: number) {
    await waitFor(
      `the caller to call all ${n} instances by their own subjects`,
      async () => {
        await call().catch(() => undefined);
        return byId.size >= n;
      },
      20_000,
    );
  }

  it("the caller's $SRV.INFO.<callee> is answered by the callee's instances alone; nobody else may subscribe to it", async (t) => {
    const info = await pool("infopool", { a: () => undefined, b: () => undefined });
    const ids = [...info.meshes.values()].map((m) => m.instanceId).sort();
    // the caller's own credentials, another caller's, the gatherer's: all refused, however spelt
    for (const identity of ["caller", "stranger", "controller"]) {
      const nc = await broker.connect(t, identity);
      for (const subject of ["$SRV.INFO.infopool", "$SRV.*.infopool", "$SRV.INFO.*", "$SRV.>", ">"]) {
        assert.ok(await subscribeRefused(nc, subject), `${identity} may not subscribe to ${subject}`);
      }
    }
    // what the caller may still subscribe to (its own discovery) answers nothing of another service
    const impostor = await broker.connect(t, "caller");
    for (const subject of ["$SRV.INFO", "$SRV.INFO.caller", "$SRV.INFO.caller.forged"]) {
      impostor.subscribe(subject, {
        callback: (_err, m) => {
          m.respond(JSON.stringify({ name: "infopool", id: "forged", version: "1.0.0", endpoints: [] }));
        },
      });
    }
    await impostor.flush();
    const nc = await broker.connect(t, "caller");
    const replies = await nc.requestMany("$SRV.INFO.infopool", "", { strategy: "timer", maxWait: 500 });
    const seen: string[] = [];
    for await (const m of replies) seen.push(m.json<{ name: string; id: string }>().id);
    assert.deepEqual(seen.sort(), ids, "exactly the instances of infopool's account");
    // a caller may ask its callees' INFO only: PING and STATS of another service are not exported to it
    await assert.rejects(nc.request("$SRV.PING.infopool", "", { timeout: 1_000 }), /Permissions Violation/);
  });

  it("p2c-ewma: one of three instances made 200 ms slower gets under 10% of the calls", async (t) => {
    const slow = await pool("slowpool", {
      c: () => undefined,
      d: () => undefined,
      slow: async (_n, ctx) => void (await workFor(200, ctx)),
    });
    const spy = await instanceSpy("slowpool");
    const mesh = await caller(t, { balance: "p2c-ewma" });
    const client = mesh.client(slow.contract);
    await warm(() => client.who({}), spy.byId, 3);
    const results = await many(600, 16, () => client.who({}));
    assert.deepEqual(
      results.filter((r) => r instanceof Error),
      [],
    );
    const by = tally(results as Array<{ instance: string }>, (r) => r.instance);
    const share = (by["slow"] ?? 0) / results.length;
    assert.ok(share < 0.1, `the slow instance took ${(share * 100).toFixed(1)}% (${JSON.stringify(by)})`);
    assert.ok((by["c"] ?? 0) > 0 && (by["d"] ?? 0) > 0, JSON.stringify(by));
  });

  it("a hedge goes to another instance than the attempt it hedges, and answers", async (t) => {
    const hedged = await pool("hedgepool", {
      a: () => undefined,
      b: () => undefined,
      slow: async (_n, ctx) => void (await workFor(200, ctx)),
    });
    const spy = await instanceSpy("hedgepool");
    // the queue group's random pick: the slow instance gets its third of first attempts
    const mesh = await caller(t, {
      balance: "queue-group",
      retry: { maxAttempts: 2, budget: BUDGET },
      hedge: { afterMs: 30, max: 1 },
    });
    const client = mesh.client(hedged.contract);
    await warm(() => client.who({}), spy.byId, 3);
    spy.attempts.clear();
    const calls = 300;
    const results = await many(calls, 8, () => client.who({}));
    assert.deepEqual(
      results.filter((r) => r instanceof Error),
      [],
    );
    const by = tally(results as Array<{ instance: string }>, (r) => r.instance);
    assert.ok((by["slow"] ?? 0) < calls * 0.01, `slow answers: ${JSON.stringify(by)}`);
    const hedges = [...spy.attempts.values()].filter((a) => a.has(2));
    assert.ok(hedges.length > calls * 0.1, `hedged calls: ${hedges.length}`);
    for (const a of hedges) assert.notEqual(a.get(2), a.get(1), "the hedge went to another instance");
  });

  it("an instance failing half its calls is ejected; the calls succeed elsewhere", async (t) => {
    const flaky = await pool("flakypool", {
      a: () => undefined,
      b: () => undefined,
      flaky: (n) => {
        if (n % 2 === 0) throw new MeshError("UNAVAILABLE", "half of these fail");
      },
    });
    const spy = await instanceSpy("flakypool");
    const flakyId = flaky.meshes.get("flaky")?.instanceId as string;
    const { logger, lines } = captureLogs("warn");
    const mesh = await caller(
      t,
      {
        balance: "p2c-ewma",
        retry: { maxAttempts: 3, budget: BUDGET },
        outlier: { failureRatio: 0.3, minimumCalls: 6, windowMs: 10_000, ejectMs: 30_000 },
      },
      { logger },
    );
    const client = mesh.client(flaky.contract);
    await warm(() => client.who({}), spy.byId, 3);
    await untilEjected(() => client.who({}), lines);
    const ejection = lines.find((l) => l["instance"] !== undefined);
    assert.equal(ejection?.["instance"], flakyId);
    const before = spy.byId.get(flakyId) ?? 0;
    const during = await many(20, 4, () => client.who({}));
    assert.equal(during.filter((r) => r instanceof Error).length, 0);
    assert.equal(spy.byId.get(flakyId) ?? 0, before, "no call went to the ejected instance");
  });

  it("a callee killed mid-call: calls keep succeeding, each with at most one slow attempt, and it is dropped", async (t) => {
    let kill: (() => void) | undefined;
    const killed = await pool("killpool", {
      a: () => undefined,
      b: () => undefined,
      // its 30th request finds it crashing: no reply, its connection gone
      doomed: async (n, ctx) => {
        if (n === 30) {
          kill?.();
          await workFor(60_000, ctx);
        }
      },
    });
    const doomed = killed.meshes.get("doomed") as Mesh;
    kill = () => void doomed.connection.close();
    const spy = await instanceSpy("killpool");
    const mesh = await caller(t, {
      balance: "p2c-ewma",
      attemptTimeoutMs: 300,
      retry: { maxAttempts: 3, budget: BUDGET },
    });
    const client = mesh.client(killed.contract);
    await warm(() => client.who({}), spy.byId, 3);
    killed.served.length = 0;
    const results = await many(400, 16, () => client.who({}));
    assert.deepEqual(
      results.filter((r) => r instanceof Error),
      [],
      "every call succeeds",
    );
    assert.ok(doomed.connection.isClosed(), "the doomed instance crashed during the calls");
    // an answer to a third attempt means two attempts failed before it
    const late = killed.served.filter((s) => s.attempt > 2);
    assert.deepEqual(late, [], "at most one slow attempt per call");
    assert.ok(
      killed.served.some((s) => s.attempt === 2),
      "some calls met the doomed instance, and their retry went elsewhere",
    );
    // across the import the gone instance is silence (no "no responders"): the caller dropped it
    const raw = await broker.connect(t, "caller");
    const h = natsHeaders();
    h.set("Mesh-Timeout", "300");
    const gone = instanceSubject("mesh", "killpool", doomed.instanceId, "who");
    const e = await raw.request(gone, "{}", { timeout: 300, headers: h }).catch((x: unknown) => x);
    assert.ok(e instanceof errors.TimeoutError, `a call to the gone instance: ${String(e)}`);
    killed.served.length = 0;
    const after = await many(50, 4, () => client.who({}));
    assert.equal(after.filter((r) => r instanceof Error).length, 0);
    assert.deepEqual(
      killed.served.filter((s) => s.attempt > 1),
      [],
      "once dropped, no call tries the gone instance",
    );
  });
});
