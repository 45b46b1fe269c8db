// Issue 14: the runtime's side of the adversary test. Real meshes serve orders and inventory on a
// nats-server running what `switchyard authz render -f examples/policy.yaml` writes, and every other
// identity, holding only its own seed, tries to act for someone else: cancel another caller's request,
// answer discovery or report rollout state for another instance, claim another caller's idempotency
// key, forge Mesh-Caller or Mesh-Tenant. Each attack is followed by a marker down the same path, or by
// the owner's own success, so "nothing happened" means the attack arrived and failed.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { fromSeed } from "@nats-io/nkeys";
import { defineContract, type HandlerContext, isMeshError, type Mesh } from "@switchyard/runtime";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { failsWith } from "./fixtures/mesh-error.js";
import { scratchDir, suiteScope } from "./fixtures/processes.js";
import { startRedis } from "./fixtures/redis-server.js";
import {
  applyPolicy,
  meshAs,
  type RenderedBroker,
  runCli,
  startRenderedBroker,
} from "./fixtures/rendered-broker.js";

const POLICY_FILE = new URL("../examples/policy.yaml", import.meta.url).pathname;
/** Every identity the example policy names that is a service (not the controller or the operator). */
const SERVICES = ["demo", "gateway", "inventory", "orders", "payments"];

const Who = z.object({
  caller: z.string().nullable(),
  callerVerified: z.boolean(),
  tenant: z.string().nullable(),
  tenantVerified: z.boolean(),
});
/** An endpoint that takes nothing and answers who its handler saw. */
const reportsWho = { input: z.strictObject({}), output: Who };
const who = (ctx: HandlerContext) => ({
  caller: ctx.caller ?? null,
  callerVerified: ctx.callerVerified,
  tenant: ctx.tenant ?? null,
  tenantVerified: ctx.tenantVerified,
});

const ordersContract = defineContract({
  name: "orders",
  version: "1.0.0",
  endpoints: {
    get: reportsWho,
    /** Runs until its caller cancels it or the test releases it. */
    slow: { input: z.strictObject({ id: z.string() }), output: z.object({ id: z.string() }) },
    place: {
      input: z.strictObject({ item: z.string() }),
      output: z.object({ run: z.number().int(), item: z.string(), caller: z.string().nullable() }),
      dedupe: true,
    },
  },
});

const inventoryContract = defineContract({
  name: "inventory",
  version: "1.0.0",
  endpoints: { reserve: reportsWho, stock: reportsWho },
});

/** A tenant token as docs/PROTOCOL.md §18 defines it, signed with `seed`. */
function tenantToken(seed: string, tenant: string): string {
  const key = fromSeed(new TextEncoder().encode(seed));
  const now = Date.now();
  const claims = { tenant, iss: key.getPublicKey(), iatMs: now, expMs: now + 60_000 };
  const signed = `v1.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${signed}.${Buffer.from(key.sign(Buffer.from(signed))).toString("base64url")}`;
}

describe("an attacker holding one service's credentials, against the runtime (examples/policy.yaml, rendered)", () => {
  const scope = suiteScope();
  let broker: RenderedBroker;
  let orders: Mesh;
  let inventory: Mesh;
  let gateway: Mesh;
  let demo: Mesh;
  let operator: Mesh;
  let operatorEnv: Record<string, string>;
  const slow = {
    running: new Set<string>(),
    aborted: new Set<string>(),
    release: new Map<string, () => void>(),
  };
  const reserves: Array<string | null> = [];
  let placed = 0;

  const connectAs = (identity: string): Promise<NatsConnection> => broker.connect(scope, identity);

  /** A raw request with exactly these headers; the Mesh-Error code of the reply ("OK" if none) and body. */
  const rawCall = async (
    nc: NatsConnection,
    subject: string,
    h: Record<string, string>,
    body: unknown = {},
  ) => {
    const headers = natsHeaders();
    for (const [k, v] of Object.entries(h)) headers.set(k, v);
    const reply = await nc.request(subject, JSON.stringify(body), { headers, timeout: 5_000 });
    return { code: reply.headers?.get("Mesh-Error") || "OK", body: reply.json<Record<string, unknown>>() };
  };

  /** Each identity's publish allow-list in the rendered config: what an attacker can reach at all. */
  const mayPublish = (identity: string, subject: string): boolean => {
    const text = readFileSync(broker.configFile, "utf8");
    const block = text.split(`  "${identity}": {`)[1] ?? "";
    const allow = /publish: \{ allow: (\[[^\]]*\])/.exec(block)?.[1];
    return allow !== undefined && (JSON.parse(allow) as string[]).includes(subject);
  };

  before(async () => {
    broker = await startRenderedBroker(scope, POLICY_FILE);
    const redis = await startRedis(scope);
    operatorEnv = await applyPolicy(scope, broker, POLICY_FILE);

    const store = { redis: { url: redis.url, commandTimeoutMs: 1_000 } };
    orders = await meshAs(scope, broker, "orders", store);
    inventory = await meshAs(scope, broker, "inventory", store);
    gateway = await meshAs(scope, broker, "gateway");
    demo = await meshAs(scope, broker, "demo");
    operator = await meshAs(scope, broker, "switchyard-cli", { policy: { follow: false } });
    await orders.serve(ordersContract, {
      get: (_input, ctx) => who(ctx),
      slow: async ({ id }, ctx) => {
        slow.running.add(id);
        await new Promise<void>((resolve) => {
          slow.release.set(id, resolve);
          ctx.signal.addEventListener("abort", () => {
            slow.aborted.add(id);
            resolve();
          });
        });
        return { id };
      },
      place: ({ item }, ctx) => ({ run: ++placed, item, caller: ctx.caller ?? null }),
    });
    await inventory.serve(inventoryContract, {
      reserve: (_input, ctx) => {
        reserves.push(ctx.caller ?? null);
        return who(ctx);
      },
      stock: (_input, ctx) => who(ctx),
    });
    for (const mesh of [orders, inventory, gateway, demo]) {
      assert.equal(mesh.vouchesIdentity, true);
      await waitFor(`${mesh.name} to run the policy`, () => mesh.policyVersion === 1, 20_000);
    }
  });

  it("cancelling another caller's request: the gateway's request completes, and only its own abort cancels", async () => {
    // who besides the gateway may publish on orders' cancel subject at all
    const cancellers = ["controller", "switchyard-cli", ...SERVICES].filter(
      (id) => id !== "gateway" && mayPublish(id, "mesh.cancel.orders"),
    );
    assert.deepEqual(cancellers, ["switchyard-cli", "demo"]);
    const call = (id: string, signal?: AbortSignal) =>
      gateway
        .client(ordersContract)
        .slow(
          { id },
          { idempotencyKey: `gateway-${id}`, timeoutMs: 60_000, maxAttempts: 1, ...(signal && { signal }) },
        );
    /** Every canceller names the gateway's key and attempt (it may learn them), headers forged too. */
    const attack = async (id: string) => {
      for (const attacker of cancellers) {
        const nc = await connectAs(attacker);
        const h = natsHeaders();
        h.set("Nats-Request-Info", JSON.stringify({ acc: "gateway", user: "gateway" }));
        h.set("Mesh-Caller", "gateway");
        for (const attempt of [1, 2]) {
          const cancel = { reply: "_INBOX.gateway.x.0", idempotencyKey: `gateway-${id}`, attempt };
          nc.publish("mesh.cancel.orders", JSON.stringify(cancel), { headers: h });
          nc.publish("mesh.cancel.orders", JSON.stringify(cancel));
        }
        // a round trip into orders behind the cancels: orders has heard them when it returns
        await rawCall(nc, "mesh.svc.orders.get", {});
        await nc.close();
      }
    };

    const completes = call("completes");
    await waitFor("the gateway's first call to reach orders", () => slow.running.has("completes"), 20_000);
    await attack("completes");
    assert.equal(slow.aborted.has("completes"), false, "another identity's cancel is ignored");
    slow.release.get("completes")?.();
    assert.deepEqual(await completes, { id: "completes" });

    const owner = new AbortController();
    const cancelled = call("cancelled", owner.signal).catch((e: unknown) => e);
    await waitFor("the gateway's second call to reach orders", () => slow.running.has("cancelled"), 20_000);
    await attack("cancelled");
    assert.equal(slow.aborted.has("cancelled"), false, "another identity's cancel is ignored");
    owner.abort();
    const e = await cancelled;
    assert.ok(isMeshError(e) && e.code === "CANCELLED", String(e));
    await waitFor("the gateway's own cancel to abort the handler", () => slow.aborted.has("cancelled"));
  });

  it("answering discovery for another instance: the operator's and controller's gathers, and orders' callers, see only the real orders", async () => {
    const controller = await connectAs("controller");
    const real = {
      PING: (await controller.request("$SRV.PING.orders", "", { timeout: 5_000 })).json<
        Record<string, unknown>
      >(),
      INFO: (await controller.request("$SRV.INFO.orders", "", { timeout: 5_000 })).json<
        Record<string, unknown>
      >(),
      STATS: (await controller.request("$SRV.STATS.orders", "", { timeout: 5_000 })).json<
        Record<string, unknown>
      >(),
    };
    assert.equal(real.PING["id"], orders.instanceId);
    const forgers = SERVICES.filter((id) => id !== "orders");
    let answered = 0;
    for (const forger of forgers) {
      const nc = await connectAs(forger);
      // no wider view of discovery than its own instances' (docs/SECURITY.md §2)
      for (const subject of ["$SRV.>", "$SRV.INFO.orders", "$SRV.*.orders", "$SRV.INFO.*"]) {
        let refused = false;
        nc.subscribe(subject, {
          callback: (err) => {
            if (err !== null) refused = true;
          },
        });
        await nc.flush();
        assert.ok(refused, `${forger} may not subscribe to ${subject}`);
      }
      // answers every discovery request it can see, as a new orders instance and as the real one
      for (const subject of [
        "$SRV.PING",
        "$SRV.INFO",
        "$SRV.STATS",
        `$SRV.*.${forger}`,
        `$SRV.*.${forger}.*`,
      ]) {
        nc.subscribe(subject, {
          callback: (_err, m) => {
            const verb = m.subject.split(".")[1] as keyof typeof real;
            if (real[verb] === undefined || !m.reply) return;
            answered++;
            m.respond(JSON.stringify({ ...real[verb], id: `forged-by-${forger}` }));
            m.respond(JSON.stringify({ ...real[verb], version: "6.6.6", metadata: { forgedBy: forger } }));
          },
        });
      }
      await nc.flush();
      // the forger's own discovery subject reaches its forgery: the forger is live and answering
      const own = await nc.requestMany(`$SRV.PING.${forger}`, "", { strategy: "timer", maxWait: 500 });
      const names: string[] = [];
      for await (const m of own) names.push(m.json<{ name: string }>().name);
      assert.ok(names.includes("orders"), `${forger}'s forger answers its own PING: ${names}`);
    }
    const seenBefore = answered;

    const expectOnlyReal = (replies: Array<{ name: string; id: string; version: string }>, by: string) => {
      const ordersReplies = replies.filter((r) => r.name === "orders" || r.id === orders.instanceId);
      assert.deepEqual(
        ordersReplies.map((r) => [r.name, r.id, r.version]),
        [["orders", orders.instanceId, "1.0.0"]],
        `${by} sees only the real orders instance`,
      );
    };
    for (const verb of ["PING", "INFO", "STATS"] as const) {
      const gathered = await controller.requestMany(`$SRV.${verb}.orders`, "", {
        strategy: "timer",
        maxWait: 500,
      });
      const replies: Array<{ name: string; id: string; version: string }> = [];
      for await (const m of gathered) replies.push(m.json());
      expectOnlyReal(replies, `the controller's $SRV.${verb}.orders`);
    }
    // orders' callers ask its INFO to balance over its instances: the forgers in their own accounts
    // (gateway's and demo's among them) cannot answer it
    for (const caller of ["gateway", "demo"]) {
      const nc = await connectAs(caller);
      const gathered = await nc.requestMany("$SRV.INFO.orders", "", { strategy: "timer", maxWait: 500 });
      const replies: Array<{ name: string; id: string; version: string }> = [];
      for await (const m of gathered) replies.push(m.json());
      expectOnlyReal(replies, `${caller}'s $SRV.INFO.orders`);
      assert.equal(replies.length, 1, `${caller} hears orders' one instance and nobody else`);
    }
    for (const command of ["ls", "info", "stats"]) {
      const out = await runCli(operatorEnv, "services", command, "orders", "--json");
      assert.equal(out.code, 0, out.stderr);
      expectOnlyReal(JSON.parse(out.stdout), `switchyard services ${command} orders`);
    }
    // the operator asking another service's instances gets no orders among them either
    for (const forger of forgers) {
      const out = await runCli(operatorEnv, "services", "ls", forger, "--json");
      assert.equal(out.code, 0, out.stderr);
      const listed = JSON.parse(out.stdout) as Array<{ name: string; id: string }>;
      assert.deepEqual(
        listed.filter((p) => p.name !== forger || p.id === orders.instanceId),
        [],
        `switchyard services ls ${forger} lists only ${forger}`,
      );
    }
    assert.ok(answered > seenBefore, "the forgers were asked (and answered) during the gathers");
  });

  it("reporting rollout state for another instance: the controller's status keeps the real orders instance", async () => {
    type Status = {
      instances: Array<{
        instanceId: string;
        service: string;
        version: number;
        state: string;
        lastReport: string;
      }>;
    };
    const status = async () => (await operator.call("controller", "status", {})) as Status;
    const ordersRows = (s: Status) =>
      s.instances.filter((i) => i.service === "orders").map((i) => [i.instanceId, i.version, i.state]);
    const before = await eventually(async () => {
      const s = await status();
      assert.deepEqual(ordersRows(s), [[orders.instanceId, 1, "current"]]);
      return s;
    });
    const reporters = SERVICES.filter((id) => id !== "orders");
    const report = (fields: Record<string, unknown>) =>
      JSON.stringify({
        instanceId: orders.instanceId,
        service: "orders",
        version: 1,
        status: "applied",
        at: new Date().toISOString(),
        heartbeatMs: 60_000,
        ...fields,
      });
    for (const reporter of reporters) {
      assert.ok(mayPublish(reporter, "mesh.config.applied"), `${reporter} may report at all`);
      const nc = await connectAs(reporter);
      const h = natsHeaders();
      h.set("Nats-Request-Info", JSON.stringify({ acc: "orders", user: "orders" }));
      for (const forged of [
        report({ version: 999 }),
        report({ status: "rejected", version: 0, about: 1, reason: `forged by ${reporter}` }),
        report({ instanceId: `forged-by-${reporter}` }),
        report({ status: "stopped" }),
      ]) {
        nc.publish("mesh.config.applied", forged);
        nc.publish("mesh.config.applied", forged, { headers: h });
      }
      // its own report behind the forgeries: the controller has taken them all when this shows
      nc.publish("mesh.config.applied", report({ service: reporter, instanceId: `marker-${reporter}` }));
      await nc.flush();
    }
    const after = await eventually(async () => {
      const s = await status();
      for (const reporter of reporters) {
        assert.ok(
          s.instances.some((i) => i.instanceId === `marker-${reporter}`),
          `${reporter}'s marker`,
        );
      }
      return s;
    });
    assert.deepEqual(
      ordersRows(after),
      ordersRows(before),
      "orders' rows are the real instance's, unchanged",
    );
    assert.deepEqual(
      after.instances.filter((i) => i.instanceId.startsWith("forged")),
      [],
      "no forged instance is tracked",
    );
    for (const reporter of reporters) {
      const nc = await connectAs(reporter);
      nc.publish(
        "mesh.config.applied",
        report({ service: reporter, instanceId: `marker-${reporter}`, status: "stopped" }),
      );
      await nc.flush();
    }
  });

  it("claiming another caller's idempotency key: demo never gets the gateway's stored result", async () => {
    // payments.charge dedupes too, but only orders may call payments: orders.place is the dedupe
    // endpoint two identities (gateway and demo) may both call
    const key = { idempotencyKey: "shared-key", maxAttempts: 1 };
    const first = await gateway.client(ordersContract).place({ item: "b1" }, key);
    assert.deepEqual(first, { run: first.run, item: "b1", caller: "gateway" });

    const nc = await connectAs("demo");
    const claim = (item: string) =>
      rawCall(
        nc,
        "mesh.svc.orders.place",
        { "Idempotency-Key": "shared-key", "Mesh-Caller": "gateway" },
        { item },
      );
    const same = await claim("b1");
    assert.equal(same.code, "OK");
    assert.notEqual(same.body["run"], first.run, "demo's call runs anew");
    assert.equal(same.body["caller"], "demo", "judged as the identity the broker vouches for");
    const other = await claim("b2");
    assert.equal(other.code, "CONFLICT", "another body under demo's own key");
    assert.notEqual(other.body["run"], first.run);
    const viaMesh = await demo.client(ordersContract).place({ item: "b1" }, key);
    assert.deepEqual(viaMesh, same.body, "demo's own replay is its own call");

    assert.deepEqual(
      await gateway.client(ordersContract).place({ item: "b1" }, key),
      first,
      "the owner's replay",
    );
    await failsWith(gateway.client(ordersContract).place({ item: "b2" }, key), "CONFLICT");
  });

  it("a forged Mesh-Caller is judged by the verified identity, a bare Mesh-Tenant refused under require: verified", async (t) => {
    // only orders may reserve: everyone else is refused by the broker, whatever Mesh-Caller says
    for (const attacker of SERVICES.filter((id) => id !== "orders")) {
      const nc = await connectAs(attacker);
      const refused = await rawCall(nc, "mesh.svc.inventory.reserve", { "Mesh-Caller": "orders" }).catch(
        (e: unknown) => e,
      );
      assert.ok(refused instanceof Error, `${attacker} reserving as orders: ${JSON.stringify(refused)}`);
    }
    assert.deepEqual(await orders.client(inventoryContract).reserve({}), {
      caller: "orders",
      callerVerified: true,
      tenant: null,
      tenantVerified: false,
    });
    assert.deepEqual(reserves, ["orders"], "only the owner's reserve ran");

    // a policy the broker was not rendered from: demo keeps only orders.get, loses inventory.stock;
    // the gateway is the tenant issuer, with the key of its rendered seed, and tenants must be verified
    const document = parseYaml(readFileSync(POLICY_FILE, "utf8")) as {
      access: { rules: Array<{ from: string; to: string; endpoints?: string[] }> };
      tenants: Record<string, unknown>;
    };
    document.access.rules = document.access.rules
      .filter((r) => r.from !== "demo")
      .concat({ from: "demo", to: "orders", endpoints: ["get"] });
    document.tenants["issuers"] = { gateway: { publicKey: broker.publicKey("gateway") } };
    document.tenants["require"] = "verified";
    const file = join(scratchDir(t, "adversary-policy"), "policy.json");
    writeFileSync(file, JSON.stringify(document));
    const applied = await runCli(operatorEnv, "policy", "apply", "-f", file);
    assert.equal(applied.code, 0, applied.stderr);
    for (const mesh of [orders, inventory, gateway, demo]) {
      await waitFor(`${mesh.name} to run version 2`, () => mesh.policyVersion === 2, 20_000);
    }

    const nc = await connectAs("demo");
    const endpointRule = await rawCall(
      nc,
      "mesh.svc.orders.place",
      { "Mesh-Caller": "gateway" },
      { item: "x" },
    );
    assert.equal(endpointRule.code, "PERMISSION_DENIED", "demo may call orders.get only");
    assert.equal((endpointRule.body["details"] as Record<string, unknown>)["caller"], "demo");
    const noRule = await rawCall(nc, "mesh.svc.inventory.stock", { "Mesh-Caller": "gateway" });
    assert.equal(noRule.code, "PERMISSION_DENIED", "no rule lets demo call inventory any more");
    assert.equal((noRule.body["details"] as Record<string, unknown>)["caller"], "demo");
    assert.equal(
      (await rawCall(nc, "mesh.svc.orders.get", { "Mesh-Caller": "gateway" })).body["caller"],
      "demo",
    );

    const gw = await connectAs("gateway");
    const bare = await rawCall(gw, "mesh.svc.inventory.stock", { "Mesh-Tenant": "acme" });
    assert.equal(bare.code, "UNAUTHENTICATED", "a Mesh-Tenant without a token");
    const notIssuer = await rawCall(nc, "mesh.svc.orders.get", {
      "Mesh-Tenant": "acme",
      "Mesh-Tenant-Token": tenantToken(readFileSync(broker.seedFile("demo"), "utf8").trim(), "acme"),
    });
    assert.equal(notIssuer.code, "UNAUTHENTICATED", "a token signed with demo's seed");
    await failsWith(demo.client(ordersContract).get({}, { tenant: "acme" }), "UNAUTHENTICATED");
    // the issuer's own runtime, with its rendered seed, is served the tenant it vouched for
    assert.deepEqual(await gateway.client(inventoryContract).stock({}, { tenant: "acme" }), {
      caller: "gateway",
      callerVerified: true,
      tenant: "acme",
      tenantVerified: true,
    });
  });
});
