// Issue 3/6: every instance answers $SRV.PING|INFO|STATS per ADR-32, valid against the official schemas.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { EndpointData, StatsResponse } from "@switchyard/schemas";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { echoContract } from "./fixtures/contracts.js";
import { meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";

const CONTRACTS = new URL("./fixtures/nats-micro-v1/", import.meta.url);
const load = (file: string) => JSON.parse(readFileSync(new URL(file, CONTRACTS), "utf8")) as object;

function validators(): Record<"PING" | "INFO" | "STATS", ValidateFunction> {
  const ajv = new Ajv({ strict: false });
  addFormats.default(ajv);
  ajv.addSchema(load("definitions.json"));
  return {
    PING: ajv.compile(load("ping_response.json")),
    INFO: ajv.compile(load("info_response.json")),
    STATS: ajv.compile(load("stats_response.json")),
  };
}

// every instance answers: wait for all three (a timer alone misses one on a loaded machine)
const ALL_THREE = { strategy: "count", maxMessages: 3, maxWait: 5_000 } as const;

describe("discovery", () => {
  it("three instances answer every verb at all three levels, valid against the NATS micro schemas", async (t) => {
    const validate = validators();
    const nats = await startNats(t);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const mesh = await meshFor(t, nats.url, "echo");
      await mesh.serve(echoContract, { say: ({ text }) => ({ text }), sayAgain: ({ text }) => ({ text }) });
      ids.push(mesh.instanceId);
    }
    const caller = await meshFor(t, nats.url, "caller");
    for (let i = 0; i < 30; i++) await caller.call("echo", "say", { text: `${i}` });
    for (let i = 0; i < 5; i++) await caller.call("echo", "say", { text: i }).catch(() => undefined);

    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    for (const verb of ["PING", "INFO", "STATS"] as const) {
      for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.echo`]) {
        const replies = await nc.requestMany(subject, "", ALL_THREE);
        const bodies: Array<Record<string, unknown>> = [];
        for await (const m of replies) bodies.push(m.json());
        assert.deepEqual(bodies.map((b) => b["id"]).sort(), [...ids].sort(), subject);
        for (const body of bodies)
          assert.ok(validate[verb](body), `${subject}: ${JSON.stringify(validate[verb].errors)}`);
      }
      const one = await nc.request(`$SRV.${verb}.echo.${ids[0]}`, "", { timeout: 1_000 });
      assert.ok(validate[verb](one.json()));
    }
    const stats = await nc.requestMany("$SRV.STATS.echo", "", ALL_THREE);
    let requests = 0;
    let errors = 0;
    let histogram = 0;
    let instances = 0;
    for await (const m of stats) {
      const body = StatsResponse.parse(m.json());
      instances++;
      const say = body.endpoints.find((e) => e.name === "say");
      assert.ok(say);
      requests += say.num_requests;
      errors += say.num_errors;
      const data = EndpointData.parse(say.data);
      histogram += data.latency.counts.reduce((a, b) => a + b, 0);
      assert.equal(data.latency.counts.length, data.latency.boundsMs.length + 1);
      assert.equal(data.inFlight, 0);
      assert.equal(body.metadata?.["switchyard.policy_version"], "0");
    }
    assert.equal(instances, 3);
    assert.equal(requests, 35);
    assert.equal(errors, 5);
    assert.equal(histogram, 35, "every request is in the latency histogram");
  });
});
