// Issue 2: a raw NATS client speaking docs/PROTOCOL.md gets typed errors for every bad input,
// and no bad input takes the service down.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import { headers, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { defineContract, isMeshError } from "@switchyard/runtime";
import { z } from "zod";
import { echoContract } from "./fixtures/contracts.js";
import { waitFor } from "./fixtures/eventually.js";
import { captureLogs, meshFor } from "./fixtures/mesh.js";
import { type NatsNode, startNats } from "./fixtures/nats-server.js";
import { suiteScope } from "./fixtures/processes.js";

function errorOf(reply: Msg) {
  return {
    code: reply.headers?.get("Mesh-Error"),
    status: reply.headers?.get("Nats-Service-Error-Code"),
    description: reply.headers?.get("Nats-Service-Error"),
    body: reply.json<{ code: string; message: string; details?: unknown }>(),
  };
}

describe("bad input over the raw protocol", () => {
  const scope = suiteScope();
  let nats: NatsNode;
  let nc: NatsConnection;
  const logs = captureLogs("warn");
  let ran = 0;

  const broken = defineContract({
    name: "broken",
    version: "1.0.0",
    endpoints: {
      throws: { input: z.object({}), output: z.object({}) },
      lies: { input: z.object({}), output: z.object({ n: z.number() }) },
    },
  });

  before(async () => {
    nats = await startNats(scope);
    const mesh = await meshFor(scope, nats.url, "echo", { logger: logs.logger });
    await mesh.serve(echoContract, {
      say: ({ text }) => {
        ran++;
        return { text };
      },
      sayAgain: ({ text }) => ({ text }),
    });
    await mesh.serve(broken, {
      throws: () => {
        throw new Error("secret database password in a message");
      },
      lies: () => ({ n: "not a number" }) as unknown as { n: number },
    });
    nc = await connect({ servers: nats.url });
    scope.after(() => nc.close());
  });

  const request = (subject: string, body: string | Uint8Array, h?: Record<string, string>) => {
    const hdrs = headers();
    for (const [k, v] of Object.entries(h ?? { "Mesh-Timeout": "2000" })) hdrs.set(k, v);
    return nc.request(subject, body, { timeout: 3_000, headers: hdrs });
  };

  it("a valid request following PROTOCOL.md gets the JSON reply", async () => {
    const reply = await request("mesh.svc.echo.say", JSON.stringify({ text: "hello" }));
    assert.equal(reply.headers?.get("Mesh-Error") ?? "", "");
    assert.deepEqual(reply.json(), { text: "hello" });
  });

  it("input failing the schema is INVALID_ARGUMENT with the issue paths, logged once", async () => {
    logs.lines.length = 0;
    const before = ran;
    const reply = await request("mesh.svc.echo.say", JSON.stringify({ text: 42, extra: true }));
    const error = errorOf(reply);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.equal(error.status, "400");
    assert.equal(error.body.code, "INVALID_ARGUMENT");
    const issues = (error.body.details as { issues: Array<{ path: string[] }> }).issues;
    assert.deepEqual(
      issues.map((i) => i.path.join(".")),
      ["text", ""],
    );
    assert.equal(ran, before, "the handler never ran");
    const logged = logs.lines.filter((l) => l["code"] === "INVALID_ARGUMENT");
    assert.equal(logged.length, 1);
  });

  it("random bytes get an error reply and the service keeps serving", async () => {
    for (let i = 0; i < 20; i++) {
      const reply = await request("mesh.svc.echo.say", randomBytes(64 + i * 13));
      assert.equal(errorOf(reply).code, "INVALID_ARGUMENT");
    }
    const reply = await request("mesh.svc.echo.say", JSON.stringify({ text: "still here" }));
    assert.deepEqual(reply.json(), { text: "still here" });
  });

  it("an unknown endpoint under the service prefix is NOT_FOUND, not a timeout", async () => {
    for (const subject of ["mesh.svc.echo.nope", "mesh.svc.echo.say.deeper"]) {
      const error = errorOf(await request(subject, "{}"));
      assert.equal(error.code, "NOT_FOUND");
      assert.equal(error.status, "404");
    }
  });

  it("headers with garbage are INVALID_ARGUMENT naming the header", async () => {
    const cases: Array<Record<string, string>> = [
      { "Mesh-Timeout": "soon" },
      { "Mesh-Timeout": "1.5" },
      { "Mesh-Tenant": "bad tenant!" },
      { "Mesh-Attempt": "0" },
      { "Content-Type": "application/xml" },
    ];
    for (const h of cases) {
      const error = errorOf(await request("mesh.svc.echo.say", JSON.stringify({ text: "x" }), h));
      assert.equal(error.code, "INVALID_ARGUMENT", JSON.stringify(h));
      const name = Object.keys(h)[0] as string;
      assert.equal((error.body.details as { header: string }).header, name);
    }
  });

  it("headers are read case-insensitively", async () => {
    const reply = await request("mesh.svc.echo.say", JSON.stringify({ text: "x" }), {
      "mesh-timeout": "0",
    });
    assert.equal(errorOf(reply).code, "DEADLINE_EXCEEDED");
  });

  it("a request without a reply subject is logged, not run", async () => {
    logs.lines.length = 0;
    const before = ran;
    nc.publish("mesh.svc.echo.say", JSON.stringify({ text: "fire and forget" }));
    await nc.flush();
    const refusals = () => logs.lines.filter((l) => /without a reply subject/.test(String(l["msg"]))).length;
    // logged when refused: from then on, it would have run already if it were going to
    await waitFor("the request without a reply subject to be logged", () => refusals() > 0);
    assert.equal(ran, before);
    assert.equal(refusals(), 1);
  });

  it("a handler's unknown throw is INTERNAL and its message does not leak", async () => {
    logs.lines.length = 0;
    const error = errorOf(await request("mesh.svc.broken.throws", "{}"));
    assert.equal(error.code, "INTERNAL");
    assert.equal(error.status, "500");
    assert.doesNotMatch(JSON.stringify(error), /secret/);
    const logged = logs.lines.filter((l) => l["code"] === "INTERNAL");
    assert.equal(logged.length, 1);
    assert.match(JSON.stringify(logged[0]), /secret database password/, "the log keeps the cause");
  });

  it("output that breaks the contract is INTERNAL to a caller that has the contract", async () => {
    // the caller checks replies (validation.output); the callee sends what its handler returned
    const caller = await meshFor(scope, nats.url, "liar-caller");
    await assert.rejects(caller.client(broken).lies({}), (e: unknown) => {
      assert.ok(isMeshError(e), String(e));
      assert.equal(e.code, "INTERNAL");
      assert.deepEqual((e.details as { issues: { path: unknown[] }[] }).issues[0]?.path, ["n"]);
      return true;
    });
  });
});
