import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Policy } from "@switchyard/schemas";
import { planAccounts, subjectsOverlap } from "./account-plan.js";

describe("subjectsOverlap", () => {
  it("is true when one subject matches both patterns", () => {
    for (const [a, b] of [
      ["mesh.svc.a.>", "mesh.svc.a.get"],
      ["mesh.svc.*.get", "mesh.svc.a.>"],
      ["mesh.>", "mesh.cancel.a"],
      [">", "x"],
      ["a.*", "a.b"],
      ["a.b", "a.b"],
    ]) {
      assert.equal(subjectsOverlap(a as string, b as string), true, `${a} ~ ${b}`);
      assert.equal(subjectsOverlap(b as string, a as string), true, `${b} ~ ${a}`);
    }
  });

  it("is false when no subject matches both", () => {
    for (const [a, b] of [
      ["mesh.svc.a.>", "mesh.svc.ab.>"],
      ["mesh.svc.a.>", "mesh.svc.a"],
      ["_R_.>", "mesh.svc.a.>"],
      ["a.*", "a.b.c"],
      ["a.b", "a.c"],
    ]) {
      assert.equal(subjectsOverlap(a as string, b as string), false, `${a} !~ ${b}`);
      assert.equal(subjectsOverlap(b as string, a as string), false, `${b} !~ ${a}`);
    }
  });
});

describe("planAccounts", () => {
  const policy = Policy.parse({
    services: { orders: {}, payments: {} },
    access: {
      default: "deny",
      rules: [
        { from: "orders", to: "payments" },
        { from: "gateway", to: "controller" },
      ],
    },
  });
  const plans = planAccounts({ policy, prefix: "mesh", bucket: "mesh-policy" });
  const plan = (name: string) => plans.find((p) => p.name === name);

  it("denies only what an allowed subject would let through", () => {
    // no allowed subject covers its own endpoints: the allow-list alone refuses them
    assert.deepEqual(plan("payments")?.publishDeny, []);
    assert.ok(!plan("payments")?.publishAllow.some((a) => subjectsOverlap(a, "mesh.svc.payments.>")));
    // the gateway may call the controller's endpoints, but not its writes
    const gateway = plan("gateway");
    assert.ok(gateway?.publishAllow.includes("mesh.svc.controller.>"));
    assert.ok(gateway?.publishDeny.includes("mesh.svc.controller.apply"));
  });

  it("imports every endpoint without share: the server writes the caller's account regardless", () => {
    const imports = plan("orders")?.imports ?? [];
    assert.ok(imports.some((i) => i.kind === "service" && i.subject === "mesh.svc.payments.>"));
    assert.ok(imports.every((i) => !("share" in i)));
  });

  it("callers import their callees' $SRV.INFO; nobody subscribes to another service's discovery", () => {
    const payments = plan("payments");
    const info = payments?.exports.find((e) => e.subject === "$SRV.INFO.payments");
    assert.deepEqual(info?.kind === "service" && [info.accounts, info.streamed], [["orders"], true]);
    const orders = plan("orders");
    assert.ok(orders?.imports.some((i) => i.account === "payments" && i.subject === "$SRV.INFO.payments"));
    assert.ok(orders?.publishAllow.includes("$SRV.INFO.payments"));
    // the gatherers import all of `$SRV.*.<service>` already: no second, overlapping import
    assert.ok(!plan("controller")?.imports.some((i) => i.subject.startsWith("$SRV.INFO.")));
    for (const p of plans) {
      const srv = p.subscribeAllow.filter((s) => s.startsWith("$SRV"));
      const own = ["$SRV.PING", "$SRV.INFO", "$SRV.STATS", `$SRV.*.${p.name}`, `$SRV.*.${p.name}.*`];
      assert.deepEqual(srv, p.name === "switchyard-cli" ? [] : own.sort(), p.name);
    }
  });
});
