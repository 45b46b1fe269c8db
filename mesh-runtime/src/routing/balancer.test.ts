import assert from "node:assert/strict";
import { test } from "node:test";
import { MeshError } from "../errors.js";
import { CALL_DEFAULTS } from "../options.js";
import type { EffectiveSettings } from "../policy/resolved-settings.js";
import { Balancer, type Instance, type MemberSource } from "./balancer.js";
import type { Member } from "./membership.js";

const target = { service: "svc", endpoint: "get", subject: "mesh.svc.svc.get" };
const settings: EffectiveSettings = {
  ...CALL_DEFAULTS,
  outlier: { ...CALL_DEFAULTS.outlier, minimumCalls: 4, ejectMs: 1_000 },
};

function setup(ids: string[]) {
  let now = 0;
  let members: Member[] = ids.map((id) => ({ id, version: "1.0.0", endpoints: new Set(["get"]) }));
  let version = 1;
  const doubts: string[] = [];
  const source: MemberSource = {
    of: () => members,
    versionOf: () => version,
    doubt: (service) => void doubts.push(service),
    gone: (_service, id) => {
      members = members.filter((m) => m.id !== id);
      version++;
    },
  };
  /** Membership names `id` again (a discovery round heard it). */
  const back = (id: string) => {
    members = [...members, { id, version: "1.0.0", endpoints: new Set(["get"]) }];
    version++;
  };
  const balancer = new Balancer("mesh", source, () => now);
  /** One attempt: picks, and settles after `ms` as the `outcome` says. */
  const call = (latency: (id: string) => number, avoid?: Instance[]) => {
    const i = balancer.pick(target, undefined, settings, avoid) as Instance;
    now += latency(i.id);
    balancer.settle(target, undefined, settings, i, latency(i.id), {
      kind: "answered",
      error: undefined,
      calleeFailure: false,
    });
    return i;
  };
  return { balancer, call, advance: (ms: number) => (now += ms), doubts, back };
}

test("no known instance: no pick (the queue group takes the call)", () => {
  const { balancer } = setup([]);
  assert.equal(balancer.pick(target, undefined, settings, undefined), undefined);
});

test("instance subjects name the instance and the endpoint", () => {
  const { balancer } = setup(["a"]);
  assert.equal(balancer.pick(target, undefined, settings, undefined)?.subject, "mesh.inst.svc.a.get");
});

test("a slow instance gets few calls once measured", () => {
  const { call } = setup(["a", "b", "slow"]);
  const counts = new Map<string, number>();
  for (let n = 0; n < 3_000; n++) {
    const i = call((id) => (id === "slow" ? 200 : 2));
    counts.set(i.id, (counts.get(i.id) ?? 0) + 1);
  }
  assert.ok((counts.get("slow") ?? 0) < 300, `slow took ${counts.get("slow")} of 3000`);
});

test("a retry avoids the instances the call tried while another is there", () => {
  const { balancer } = setup(["a", "b", "c"]);
  for (let n = 0; n < 200; n++) {
    const first = balancer.pick(target, undefined, settings, undefined) as Instance;
    const second = balancer.pick(target, undefined, settings, [first]) as Instance;
    const third = balancer.pick(target, undefined, settings, [first, second]) as Instance;
    assert.notEqual(second, first);
    assert.ok(third !== first && third !== second);
    const fourth = balancer.pick(target, undefined, settings, [first, second, third]) as Instance;
    assert.notEqual(fourth, third, "all tried: anything but the latest");
  }
});

test("fast failures and sheds count as slow: they do not attract calls", () => {
  const { balancer, call } = setup(["a", "b", "bad"]);
  for (let n = 0; n < 30; n++) call(() => 5);
  const counts = new Map<string, number>();
  for (let n = 0; n < 1_000; n++) {
    const i = balancer.pick(target, undefined, settings, undefined) as Instance;
    const failed = i.id === "bad";
    balancer.settle(target, undefined, settings, i, failed ? 0.1 : 5, {
      kind: "answered",
      error: failed ? new MeshError("OVERLOADED", "shed") : undefined,
      calleeFailure: false,
    });
    counts.set(i.id, (counts.get(i.id) ?? 0) + 1);
  }
  assert.ok((counts.get("bad") ?? 0) < 100, `the shedding instance took ${counts.get("bad")} of 1000`);
});

test("an instance failing by its own fault is ejected for ejectMs, within the share, then readmitted", () => {
  const { balancer, advance } = setup(["a", "b", "c"]);
  const fail = { kind: "answered", error: new MeshError("INTERNAL", "boom"), calleeFailure: true } as const;
  const ejections: string[] = [];
  for (let n = 0; n < 200; n++) {
    const i = balancer.pick(target, undefined, settings, undefined) as Instance;
    const e = balancer.settle(
      target,
      undefined,
      settings,
      i,
      1,
      i.id === "a" || i.id === "b"
        ? fail
        : {
            kind: "answered",
            error: undefined,
            calleeFailure: false,
          },
    );
    if (e !== undefined) ejections.push(e.instance);
  }
  assert.equal(ejections.length, 1, `only one of three at once (share 0.5): ${ejections}`);
  assert.equal(balancer.ejectedOf(target.subject), 1);
  for (let n = 0; n < 50; n++) {
    const i = balancer.pick(target, undefined, settings, undefined) as Instance;
    assert.notEqual(i.id, ejections[0], "an ejected instance gets no calls");
    balancer.settle(target, undefined, settings, i, 1, { kind: "unsent" });
  }
  advance(1_000);
  assert.equal(balancer.ejectedOf(target.subject), 0);
});

test("a gone instance leaves the pool at once", () => {
  const { balancer } = setup(["a", "b"]);
  const i = balancer.pick(target, undefined, settings, undefined) as Instance;
  balancer.settle(target, undefined, settings, i, 1, { kind: "gone" });
  for (let n = 0; n < 20; n++) {
    const next = balancer.pick(target, undefined, settings, undefined) as Instance;
    assert.notEqual(next.id, i.id);
    balancer.settle(target, undefined, settings, next, 1, { kind: "unsent" });
  }
});

test("an unanswered attempt: membership asks again; where silence may mean gone, the instance is dropped", () => {
  const timeout = new MeshError("DEADLINE_EXCEEDED", "no reply");
  for (const gone of [false, true]) {
    const { balancer, doubts } = setup(["a", "b", "stuck"]);
    /** Every instance a call may pick: each retry avoids those already tried. */
    const pickAll = () => {
      const picked = new Map<string, Instance>();
      for (let n = 0; n < 100; n++) {
        const i = balancer.pick(target, undefined, settings, [...picked.values()]) as Instance;
        picked.set(i.id, i);
        balancer.settle(target, undefined, settings, i, 1, { kind: "unsent" });
      }
      return picked;
    };
    let stuck = balancer.pick(target, undefined, settings, undefined) as Instance;
    while (stuck.id !== "stuck") {
      balancer.settle(target, undefined, settings, stuck, 1, { kind: "unsent" });
      stuck = balancer.pick(target, undefined, settings, undefined) as Instance;
    }
    balancer.settle(target, undefined, settings, stuck, 100, { kind: "silent", error: timeout, gone });
    assert.deepEqual(doubts, ["svc"], "membership asks again now");
    assert.equal(pickAll().has("stuck"), !gone, gone ? "dropped" : "kept (silence is slowness here)");
  }
});

test("an instance membership drops and names again keeps its latency average", () => {
  const { balancer, call, back } = setup(["a", "b", "slow"]);
  for (let n = 0; n < 60; n++) call((id) => (id === "slow" ? 200 : 2));
  /** Every instance a call may pick: each retry avoids those already tried. */
  const all = () => {
    const seen = new Map<string, Instance>();
    for (let n = 0; n < 200; n++) {
      const i = balancer.pick(target, undefined, settings, [...seen.values()]) as Instance;
      seen.set(i.id, i);
      balancer.settle(target, undefined, settings, i, 1, { kind: "unsent" });
    }
    return seen;
  };
  const slow = all().get("slow") as Instance;
  slow.ewma.start();
  balancer.settle(target, undefined, settings, slow, 200, {
    kind: "silent",
    error: new MeshError("DEADLINE_EXCEEDED", "no reply"),
    gone: true,
  });
  assert.equal(all().has("slow"), false, "dropped");
  back("slow");
  assert.equal(all().get("slow"), slow, "the same instance, with what this caller learnt of it");
  assert.ok(slow.ewma.latencyMs(0) >= 200);
});
