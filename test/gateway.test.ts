// Issue 7: tenants at the edge. The gateway admits a valid API key as its tenant and refuses
// missing, wrong and revoked keys with 401 before anything reaches the mesh.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ApiKeys, type KeysFile, newApiKey, startGateway } from "@switchyard/service-gateway";
import { ordersContract } from "@switchyard/service-orders";
import { waitFor } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import { scratchDir } from "./fixtures/processes.js";

describe("gateway API keys", () => {
  it("admits the right key as its tenant; refuses missing, malformed, wrong and revoked keys with 401", async (t) => {
    const nats = await startNats(t);
    const tenants: Array<string | undefined> = [];
    const service = await meshFor(t, nats.url, "orders");
    await service.serve(ordersContract, {
      create: (input, ctx) => {
        tenants.push(ctx.tenant);
        return {
          orderId: "o-1",
          customerId: input.customerId,
          lines: input.lines,
          reservationId: "r-1",
          paymentId: "p-1",
          totalCents: 1999,
          status: "confirmed" as const,
        };
      },
      get: () => {
        throw new Error("not used");
      },
    });
    const dir = scratchDir(t, "gateway");
    const file = join(dir, "keys.json");
    const acme = newApiKey("acme-1", "acme");
    const old = newApiKey("acme-old", "acme");
    const keysFile = (revokeAcme: boolean): KeysFile => ({
      keys: [
        { ...acme.record, revoked: revokeAcme },
        { ...old.record, revoked: true },
      ],
    });
    writeFileSync(file, JSON.stringify(keysFile(false)));
    const mesh = await meshFor(t, nats.url, "gateway");
    const keys = new ApiKeys(file, () => undefined);
    const gateway = await startGateway({ mesh, keys, port: 0 });
    t.after(() => gateway.close());

    const order = { customerId: "c-1", lines: [{ sku: "WIDGET-1", quantity: 1 }] };
    const post = (headers: Record<string, string>) =>
      fetch(`${gateway.url}/orders`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify(order),
      });
    const wrongSecret = `${acme.key.slice(0, -4)}AAAA`;
    for (const [what, headers] of [
      ["missing", {}],
      ["malformed", { Authorization: "Bearer hello" }],
      ["wrong secret", { Authorization: `Bearer ${wrongSecret}` }],
      ["unknown id", { "X-Api-Key": newApiKey("nobody", "acme").key }],
      ["revoked", { Authorization: `Bearer ${old.key}` }],
    ] as const) {
      const res = await post(headers);
      assert.equal(res.status, 401, what);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "UNAUTHENTICATED", what);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
    assert.deepEqual(tenants, [], "nothing reached the mesh");

    const ok = await post({ Authorization: `Bearer ${acme.key}` });
    assert.equal(ok.status, 201);
    assert.equal(((await ok.json()) as { orderId: string }).orderId, "o-1");
    assert.ok(ok.headers.get("x-request-id"));
    assert.deepEqual(tenants, ["acme"], "the key's tenant, not anything the client says");

    // revoking takes effect without a restart
    writeFileSync(file, JSON.stringify(keysFile(true)));
    // the gateway re-reads the file at most once a second: wait until its key store refuses the key
    await waitFor("the revoked key to be refused", () => keys.tenantOf(acme.key) === undefined);
    assert.equal((await post({ Authorization: `Bearer ${acme.key}` })).status, 401);
    assert.deepEqual(tenants, ["acme"]);
  });
});
