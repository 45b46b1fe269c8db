// Issue 14: an attacker holding one service identity's seed, against a nats-server running what
// `switchyard authz render -f examples/policy.yaml` writes. Every attack is followed by a marker sent
// down the same path and awaited, so "nothing happened" means the attack was processed and failed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { POLICY_BUCKET, POLICY_CURRENT_KEY } from "@switchyard/schemas";
import { eventually, waitFor } from "./fixtures/eventually.js";
import { suiteScope } from "./fixtures/processes.js";
import { applyPolicy, type RenderedBroker, runCli, startRenderedBroker } from "./fixtures/rendered-broker.js";

const POLICY_FILE = new URL("../examples/policy.yaml", import.meta.url).pathname;
const STREAM = `KV_${POLICY_BUCKET}`;
const CONTROL = ["controller", "switchyard-cli"];
const FORGED = "forged";

/** Replies that would hurt if anyone published into them: the bucket, the config subjects, the JS API. */
function harmfulReplies(victim: string): string[] {
  return [
    `$KV.${POLICY_BUCKET}.${POLICY_CURRENT_KEY}`,
    `$KV.${POLICY_BUCKET}.versions.1`,
    `$KV.${POLICY_BUCKET}.${FORGED}`,
    "mesh.config.policy",
    "mesh.config.report",
    "mesh.config.applied",
    `$JS.API.STREAM.PURGE.${STREAM}`,
    `$JS.API.STREAM.DELETE.${STREAM}`,
    `$JS.API.STREAM.UPDATE.${STREAM}`,
    `$JS.API.STREAM.MSG.DELETE.${STREAM}`,
    `_INBOX.${victim}.adversary.1`,
  ];
}

/** Waits until `probe` finds something, and returns it. */
function found<T>(what: string, probe: () => T | undefined): Promise<T> {
  return eventually(() => {
    const value = probe();
    if (value === undefined) throw new Error(`waiting for ${what}`);
    return value;
  });
}

/** Each identity's publish allow-list, read from the rendered config (the attacker's whole reach). */
function publishAllowLists(configFile: string): Map<string, string[]> {
  const text = readFileSync(configFile, "utf8");
  const out = new Map<string, string[]>();
  for (const block of text.split(/^ {2}"(?=[^"]+": \{$)/m).slice(1)) {
    const name = block.slice(0, block.indexOf('"'));
    const allow = /publish: \{ allow: (\[[^\]]*\])/.exec(block)?.[1];
    assert.ok(allow !== undefined, `no publish allow-list for ${name}`);
    out.set(name, JSON.parse(allow) as string[]);
  }
  return out;
}

/** A concrete subject an allow-list entry admits (a DIRECT.GET names the policy's key). */
function instantiate(subject: string): string {
  const last = subject.includes("DIRECT.GET") ? `$KV.${POLICY_BUCKET}.${POLICY_CURRENT_KEY}` : "x";
  return subject.replace(/\*/g, "x").replace(/>$/, last);
}

describe("an attacker holding one service's credentials (examples/policy.yaml, rendered)", () => {
  const scope = suiteScope();
  let broker: RenderedBroker;
  let allowed: Map<string, string[]>;
  let attackers: string[];
  let kv: KV;
  let jsm: JetStreamManager;
  let forgedSnapshot: string;
  /** The operator's CLI environment. */
  let operatorEnv: Record<string, string>;
  /** What each identity's watcher saw on the config subject and in its inbox. */
  const seen = new Map<string, Array<{ subject: string; data: string }>>();
  /** Requests that reached each callee, by subject (the echo responders). */
  const held: Msg[] = [];

  const connectAs = (identity: string): Promise<NatsConnection> => broker.connect(scope, identity);

  const bucketState = async () => {
    const entry = await kv.get(POLICY_CURRENT_KEY);
    const info = await jsm.streams.info(STREAM);
    return {
      current: entry?.string(),
      revision: entry?.revision,
      messages: info.state.messages,
      lastSeq: info.state.last_seq,
      maxPerSubject: info.config.max_msgs_per_subject,
    };
  };

  /** A stream config for UPDATE, a snapshot for everything else: what a successful forgery would write. */
  const forgeryFor = (subject: string, by: string) =>
    subject.includes("STREAM.UPDATE")
      ? JSON.stringify({ name: STREAM, subjects: [`$KV.${POLICY_BUCKET}.>`], max_msgs_per_subject: 1 })
      : forgedSnapshot.replace(FORGED, `${FORGED} by ${by}`);

  before(async () => {
    broker = await startRenderedBroker(scope, POLICY_FILE);
    operatorEnv = await applyPolicy(scope, broker, POLICY_FILE);

    allowed = publishAllowLists(broker.configFile);
    attackers = [...allowed.keys()].filter((id) => !CONTROL.includes(id));
    assert.deepEqual(attackers, ["demo", "gateway", "inventory", "orders", "payments", "recommendations"]);

    const owner = await connectAs("controller");
    kv = await new Kvm(owner).open(POLICY_BUCKET);
    jsm = await jetstreamManager(owner);
    const current = JSON.parse((await kv.get(POLICY_CURRENT_KEY))?.string() ?? "null") as Record<
      string,
      unknown
    >;
    assert.equal(current["version"], 1);
    forgedSnapshot = JSON.stringify({
      ...current,
      version: 999,
      note: FORGED,
      document: { ...(current["document"] as object), access: { default: "allow", rules: [] } },
    });

    for (const id of attackers) {
      const nc = await connectAs(id);
      // every callee echoes what it gets: a reflected request comes back as the forgery it carried
      nc.subscribe(`mesh.svc.${id}.>`, {
        queue: id,
        callback: (_err, m) => {
          if (m.subject.endsWith(".slow")) held.push(m);
          else if (m.reply) m.respond(m.data);
        },
      });
      const log: Array<{ subject: string; data: string }> = [];
      seen.set(id, log);
      for (const subject of ["mesh.config.policy", `_INBOX.${id}.>`]) {
        nc.subscribe(subject, {
          callback: (_err, m) => {
            log.push({ subject: m.subject, data: m.string() });
          },
        });
      }
      await nc.flush();
    }
  });

  it("direct and reflected writes, from every subject each identity may publish, leave the policy untouched", async (t) => {
    const before = await bucketState();
    for (const attacker of attackers) {
      await t.test(attacker, async () => {
        const nc = await connectAs(attacker);
        // its own reflector: everything it may subscribe to answers into whatever reply it names
        for (const subject of [
          // the discovery requests it answers (`$SRV.>` is refused: test/adversary-runtime.test.ts)
          "$SRV.PING",
          "$SRV.INFO",
          "$SRV.STATS",
          `$SRV.*.${attacker}`,
          `$SRV.*.${attacker}.*`,
          `_INBOX.${attacker}.>`,
          "mesh.config.report",
          `mesh.cancel.${attacker}`,
        ]) {
          nc.subscribe(subject, {
            callback: (_err, m) => {
              if (m.reply) nc.publish(m.reply, forgeryFor(m.reply, attacker));
            },
          });
        }
        const victim = attacker === "orders" ? "gateway" : "orders";
        const reach = (allowed.get(attacker) ?? []).map(instantiate);
        const direct = harmfulReplies(victim);
        for (const subject of [...reach, ...direct]) {
          nc.publish(subject, forgeryFor(subject, attacker));
          for (const reply of direct) nc.publish(subject, forgeryFor(subject, attacker), { reply });
        }
        await nc.flush();
        // markers down the same paths: the callees, the JS API, the attacker's own reflector
        for (const subject of reach.filter((s) => s.startsWith("mesh.svc."))) {
          assert.equal((await nc.request(subject, "marker", { timeout: 5_000 })).string(), "marker");
        }
        const info = await nc.request(`$JS.${POLICY_BUCKET}.API.STREAM.INFO.${STREAM}`, "", {
          timeout: 5_000,
        });
        assert.match(info.string(), /"messages"/);
        await nc.request(`$SRV.PING.${attacker}`, "marker", { timeout: 5_000 });
        assert.deepEqual(await bucketState(), before, "the bucket is byte for byte what it was");
        // its reflector goes with it: a callee may answer a later caller's request into whatever
        // reply that caller named in its own account, which is that caller's doing, not this one's
        await nc.close();
      });
    }
    await checkWatchersSawNoForgery();
  });

  it("no identity but the operator can call the controller's write endpoints", async () => {
    for (const attacker of attackers) {
      const nc = await connectAs(attacker);
      for (const endpoint of ["apply", "rollback"]) {
        const body = JSON.stringify({ document: JSON.parse(forgedSnapshot).document, version: 1 });
        const e = await nc
          .request(`mesh.svc.controller.${endpoint}`, body, { timeout: 2_000 })
          .catch((x) => x);
        assert.ok(e instanceof Error, `${attacker} ${endpoint}: ${String(e)}`);
      }
    }
    const state = await bucketState();
    assert.equal(JSON.parse(state.current ?? "{}").version, 1);
  });

  it("subscribing to another service's requests or inbox gets nothing of it", async () => {
    const stolen: string[] = [];
    const spies: NatsConnection[] = [];
    for (const attacker of attackers) {
      const nc = await connectAs(attacker);
      spies.push(nc);
      for (const other of attackers.filter((o) => o !== attacker)) {
        for (const subject of [`mesh.svc.${other}.>`, `_INBOX.${other}.>`, `mesh.cancel.${other}`]) {
          nc.subscribe(subject, {
            callback: (err, m) => {
              if (!err) stolen.push(`${attacker} got ${m.subject}`);
            },
          });
        }
        nc.subscribe(`mesh.svc.${other}.>`, {
          queue: other,
          callback: (err, m) => {
            if (!err) stolen.push(`${attacker} got ${m.subject} in queue ${other}`);
          },
        });
      }
      await nc.flush();
    }
    // every call the policy allows, made and answered while the spies listen
    for (const caller of attackers) {
      const nc = await connectAs(caller);
      for (const subject of (allowed.get(caller) ?? []).filter((s) => s.startsWith("mesh.svc."))) {
        const reply = await nc.request(instantiate(subject), "legit", { timeout: 5_000 });
        assert.equal(reply.string(), "legit", `${caller} → ${subject}`);
      }
    }
    await Promise.all(spies.map((nc) => nc.flush()));
    assert.deepEqual(stolen, []);
  });

  it("a reply forged into another caller's pending call never reaches it", async () => {
    const gateway = await connectAs("gateway");
    const inbox = "_INBOX.gateway.pending.1";
    const answers: string[] = [];
    gateway.subscribe(inbox, {
      callback: (_err, m) => {
        answers.push(m.string());
      },
    });
    await gateway.flush();
    gateway.publish("mesh.svc.orders.slow", "legit", { reply: inbox });
    const pending = await found("the call to reach orders", () => held.at(-1));
    assert.match(pending.reply ?? "", /^_R_\./, "the callee sees only the server's reply subject");
    for (const attacker of attackers.filter((a) => a !== "gateway" && a !== "orders")) {
      const nc = await connectAs(attacker);
      for (const subject of [inbox, pending.reply ?? "", `_INBOX.gateway.>`]) {
        nc.publish(subject.replace(">", "pending.1"), `${FORGED} by ${attacker}`);
      }
      await nc.flush();
    }
    pending.respond("legit");
    await waitFor("the real answer", () => answers.length > 0);
    await gateway.flush();
    assert.deepEqual(answers, ["legit"]);
  });

  it("a policy the operator applies still reaches every account (the watchers work)", async () => {
    // the attacks are over and checked: from here on only the operator's change may show
    for (const log of seen.values()) log.length = 0;
    const applied = await runCli(operatorEnv, "policy", "apply", "-f", POLICY_FILE, "--wait");
    assert.equal(applied.code, 0, applied.stderr);
    for (const id of attackers) {
      const pushes = await found(`${id} to see version 2`, () => {
        const got = (seen.get(id) ?? []).filter((m) => m.subject === "mesh.config.policy");
        return got.length > 0 ? got : undefined;
      });
      assert.deepEqual(
        pushes.map((m) => JSON.parse(m.data).version),
        [2],
        `${id} saw exactly the one real push`,
      );
    }
    await checkWatchersSawNoForgery();
  });

  async function checkWatchersSawNoForgery() {
    for (const id of attackers) {
      // a marker into the watcher's own inbox, behind everything the attackers sent
      const nc = await connectAs(id);
      nc.publish(`_INBOX.${id}.marker`, "marker");
      await nc.flush();
      const log = await found(`${id}'s watcher to see its marker`, () => {
        const got = seen.get(id) ?? [];
        return got.some((m) => m.subject === `_INBOX.${id}.marker`) ? got : undefined;
      });
      // an identity can of course write into its own inbox; what matters is nobody else's reaching it
      const forged = log
        .filter((m) => m.data.includes(FORGED) || m.subject.includes("adversary"))
        .filter((m) => !m.data.includes(`${FORGED} by ${id}"`))
        .map((m) => `${m.subject}: ${m.data.slice(-40)}`);
      assert.deepEqual(forged, [], `${id} saw nothing forged by another identity`);
    }
  }
});
