import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { MeshError } from "@switchyard/runtime";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { EventStreams } from "./event-streams.js";
import { type HttpEdge, type HttpEdgeOptions, jsonBody, startHttpEdge } from "./http-edge.js";

const options: HttpEdgeOptions = {
  name: "edge",
  log: pino({ level: "silent" }),
  port: 0,
  bodyLimitBytes: 64,
};

/** A promise and the function that settles it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire = () => {};
  const promise = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { promise, fire };
}

/**
 * A `/slow` route that answers once released, and an edge closed while a request to it is in
 * flight: the close waits for that request, which still gets its answer.
 */
function slowRoute() {
  const arrived = signal();
  const release = signal();
  return {
    register(app: FastifyInstance) {
      app.get("/slow", async () => {
        arrived.fire();
        await release.promise;
        return { done: true };
      });
    },
    async closeWhileInFlight(edge: HttpEdge) {
      const inFlight = fetch(`${edge.url}/slow`);
      await arrived.promise;
      const closed = edge.close();
      release.fire();
      assert.deepEqual(await (await inFlight).json(), { done: true });
      await closed;
    },
  };
}

describe("the HTTP edge", () => {
  it("answers every error as a MeshError: status, Retry-After, { error: { code, message, details? } }", async (t) => {
    const edge = await startHttpEdge(options, (app) => {
      app.get("/quota", () => {
        throw new MeshError("QUOTA_EXCEEDED", "slow down", { retryAfterMs: 1_500 });
      });
      app.get("/bug", () => {
        throw new Error("a bug");
      });
      app.post("/echo", (request) => jsonBody(request));
    });
    t.after(() => edge.close());
    const quota = await fetch(`${edge.url}/quota`);
    assert.equal(quota.status, 429);
    assert.equal(quota.headers.get("retry-after"), "2");
    assert.deepEqual(await quota.json(), { error: { code: "QUOTA_EXCEEDED", message: "slow down" } });
    const bug = await fetch(`${edge.url}/bug`);
    assert.equal(bug.status, 500);
    assert.deepEqual(await bug.json(), { error: { code: "INTERNAL", message: "the edge failed" } });
    const missing = await fetch(`${edge.url}/nowhere`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
    const large = await fetch(`${edge.url}/echo`, { method: "POST", body: JSON.stringify("x".repeat(100)) });
    assert.equal(large.status, 413);
    assert.deepEqual(await large.json(), {
      error: { code: "PAYLOAD_TOO_LARGE", message: "the body exceeds 64 bytes", details: { limitBytes: 64 } },
    });
    // JSON whatever the content type says (fetch sends a string as text/plain)
    const echoed = await fetch(`${edge.url}/echo`, { method: "POST", body: '{"a":1}' });
    assert.deepEqual(await echoed.json(), { a: 1 });
    for (const body of ["{nope", undefined]) {
      const bad = await fetch(`${edge.url}/echo`, {
        method: "POST",
        ...(body === undefined ? {} : { body }),
      });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: { code: string } }).error.code, "INVALID_ARGUMENT");
    }
    const badUrl = await fetch(`${edge.url}/%E0%A4%A`);
    assert.equal(badUrl.status, 400);
    assert.equal(((await badUrl.json()) as { error: { code: string } }).error.code, "INVALID_ARGUMENT");
  });

  it("brackets an IPv6 address in its URL", async (t) => {
    let edge: HttpEdge;
    try {
      edge = await startHttpEdge({ ...options, host: "::1" }, () => undefined);
    } catch {
      t.skip("no IPv6 loopback here");
      return;
    }
    t.after(() => edge.close());
    assert.match(edge.url, /^http:\/\/\[::1\]:\d+$/);
  });

  it("closes once requests in flight finish, ending keep-alive connections and event streams", {
    timeout: 20_000,
  }, async () => {
    const slow = slowRoute();
    const edge = await startHttpEdge(options, (app) => {
      const streams = new EventStreams(app, 1);
      slow.register(app);
      app.get("/stream", async (_request, reply) => {
        streams.open(reply).send("hello", { n: 1 });
      });
    });
    // fetch keeps its connections alive: without the edge ending them, close would wait for them
    assert.equal((await fetch(`${edge.url}/slow-not-found`)).status, 404);
    const stream = await fetch(`${edge.url}/stream`);
    assert.equal(stream.headers.get("content-type"), "text/event-stream");
    assert.equal((await fetch(`${edge.url}/stream`)).status, 503, "one stream at most");
    await slow.closeWhileInFlight(edge);
    assert.match(await stream.text(), /event: hello\ndata: \{"n":1\}/);
  });

  it("does not wait for connections that never sent a whole request (Node would hold them 60 s)", {
    timeout: 20_000,
  }, async () => {
    const slow = slowRoute();
    const edge = await startHttpEdge(options, (app) => slow.register(app));
    const { port } = new URL(edge.url);
    const quiet = async (partial: string) => {
      const socket = connect(Number(port), "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.write(partial);
      return new Promise<void>((resolve) => socket.once("close", () => resolve()));
    };
    // a preconnect that says nothing, and a request cut off in its headers
    const cut = [quiet(""), quiet("GET /slow HTTP/1.1\r\nHost: edge\r\n")];
    // the request in flight still gets its answer; then the quiet connections are cut
    await slow.closeWhileInFlight(edge);
    await Promise.all(cut);
  });
});
