// Issue 14: on a broker with one account per identity a bare `$SRV.PING` reaches only the asker's
// own account, so the CLI and the dashboard ask `$SRV.<VERB>.<service>` for each identity the
// policy names, and drop a reply that answers for another service than the one asked.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type NatsConnection, nkeyAuthenticator } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import { connect } from "@nats-io/transport-node";
import { controllerContract, startController } from "@switchyard/controller";
import { defineContract } from "@switchyard/runtime";
import { z } from "zod";
import { eventually } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import { type Cleanup, scratchDir } from "./fixtures/processes.js";
import { runCli } from "./fixtures/rendered-broker.js";

const Text = z.object({ text: z.string() });
const contractOf = (name: string) =>
  defineContract({ name, version: "1.0.0", endpoints: { get: { input: Text, output: Text } } });

const IDENTITIES = ["controller", "orders", "payments", "switchyard-cli"] as const;
type Identity = (typeof IDENTITIES)[number];
const SERVICES = ["orders", "payments"] as const;

/**
 * A minimal accounts configuration (the shape of research §4, written by hand so this test does
 * not depend on `authz render`): each service exports its discovery subjects as a stream service
 * to the controller and the operator, the controller its endpoints to the operator.
 */
function accountsConfig(keys: Record<Identity, string>): string {
  const srv = (svc: string, to: string[]) =>
    [`$SRV.*.${svc}`, `$SRV.*.${svc}.*`].map(
      (s) => `{ service: "${s}", accounts: [${to.map((a) => `"${a}"`).join(", ")}], response_type: stream }`,
    );
  const srvImports = (from: string) =>
    [`$SRV.*.${from}`, `$SRV.*.${from}.*`].map((s) => `{ service: { account: "${from}", subject: "${s}" } }`);
  const account = (name: Identity, body: string[]) =>
    `  "${name}" {\n    users: [ { nkey: "${keys[name]}" } ]\n${body.map((l) => `    ${l}`).join("\n")}\n  }`;
  return `accounts {
${account("controller", [
  "jetstream: enabled",
  `exports: [ { service: "mesh.svc.controller.>", accounts: ["switchyard-cli"] }, ${srv("controller", ["switchyard-cli"]).join(", ")} ]`,
  `imports: [ ${SERVICES.flatMap(srvImports).join(", ")} ]`,
])}
${SERVICES.map((s) => account(s, [`exports: [ ${srv(s, ["controller", "switchyard-cli"]).join(", ")} ]`])).join("\n")}
${account("switchyard-cli", [
  `imports: [ { service: { account: "controller", subject: "mesh.svc.controller.>" } }, ${["controller", ...SERVICES].flatMap(srvImports).join(", ")} ]`,
])}
}
`;
}

/** A raw connection in `identity`'s account that answers `$SRV.<verb>.payments` as if it were orders. */
async function impostor(t: Cleanup, url: string, seed: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: url,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
  });
  t.after(() => nc.close());
  const started = new Date().toISOString();
  const common = { name: "orders", id: "forged", version: "1.0.0", metadata: {} };
  nc.subscribe("$SRV.PING.payments", {
    callback: (_e, m) => {
      m.respond(JSON.stringify({ type: "io.nats.micro.v1.ping_response", ...common }));
    },
  });
  nc.subscribe("$SRV.STATS.payments", {
    callback: (_e, m) => {
      m.respond(
        JSON.stringify({ type: "io.nats.micro.v1.stats_response", ...common, started, endpoints: [] }),
      );
    },
  });
  await nc.flush();
  return nc;
}

describe("discovery across per-identity accounts", () => {
  it("the CLI and the dashboard ask each service the policy names and drop replies for another service", async (t) => {
    const dir = scratchDir(t, "discovery-accounts");
    const seeds = {} as Record<Identity, string>;
    const keys = {} as Record<Identity, string>;
    for (const id of IDENTITIES) {
      const user = createUser();
      seeds[id] = new TextDecoder().decode(user.getSeed());
      keys[id] = user.getPublicKey();
      writeFileSync(join(dir, `${id}.nk`), `${seeds[id]}\n`, { mode: 0o600 });
    }
    const config = join(dir, "nats-server.conf");
    writeFileSync(config, accountsConfig(keys));
    const nats = await startNats(t, { jetstream: true, args: ["-c", config] });
    const auth = (id: Identity) => ({ auth: { nkeyFile: join(dir, `${id}.nk`) } });

    const controller = await startController({
      mesh: { servers: nats.url, logLevel: "silent", ...auth("controller") },
      dashboard: { port: 0 },
    });
    t.after(() => controller.close());
    for (const service of SERVICES) {
      const mesh = await meshFor(t, nats.url, service, auth(service));
      await mesh.serve(contractOf(service), { get: ({ text }) => ({ text }) });
    }
    await impostor(t, nats.url, seeds.payments);
    const operator = await meshFor(t, nats.url, "switchyard-cli", {
      ...auth("switchyard-cli"),
      policy: { follow: false },
    });
    await operator.client(controllerContract).apply({ document: { services: { orders: {}, payments: {} } } });

    // the bare subject reaches no other account: asking each service is the only way
    await assert.rejects(operator.connection.request("$SRV.PING", "", { timeout: 1_000 }), /no responders/);

    const env = { NATS_URL: nats.url, NATS_NKEY: join(dir, "switchyard-cli.nk") };
    const ls = await runCli(env, "services", "ls", "--json");
    assert.equal(ls.code, 0, ls.stderr);
    const pings = JSON.parse(ls.stdout) as Array<{ name: string; id: string }>;
    assert.deepEqual([...new Set(pings.map((p) => p.name))].sort(), ["controller", "orders", "payments"]);
    assert.ok(
      !pings.some((p) => p.id === "forged"),
      "the reply answering for orders from payments is dropped",
    );
    assert.match(ls.stderr, /1 discovery replies dropped/);
    const one = await runCli(env, "services", "ls", "payments", "--json");
    assert.deepEqual(
      (JSON.parse(one.stdout) as Array<{ name: string }>).map((p) => p.name),
      ["payments"],
      one.stderr,
    );

    const base = controller.dashboardUrl as string;
    await eventually(
      async () => {
        const o = (await (await fetch(`${base}/api/overview`)).json()) as {
          instances: Array<{ service: string; id: string }>;
          droppedReplies: number;
        };
        assert.deepEqual([...new Set(o.instances.map((i) => i.service))].sort(), [
          "controller",
          "orders",
          "payments",
        ]);
        assert.ok(!o.instances.some((i) => i.id === "forged"));
        assert.equal(o.droppedReplies, 1);
      },
      10_000,
      200,
    );
  });
});
