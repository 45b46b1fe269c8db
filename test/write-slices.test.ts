// Requests written in slices (mesh-runtime/src/wire/write-slices.ts): the runtime lowers nats.js's
// inline-write threshold to half of a burst of calls in flight. That threshold is an internal of
// nats.js (pinned at an exact version): these fail when it moves or stops doing what it did.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NatsConnectionImpl } from "@nats-io/nats-core/internal";
import { connect } from "@nats-io/transport-node";
import { MAX_SLICE_BYTES } from "../mesh-runtime/src/wire/write-slices.js";
import { echoContract } from "./fixtures/contracts.js";
import { meshFor } from "./fixtures/mesh.js";
import { suiteNats } from "./fixtures/nats-server.js";

describe("requests written in slices", () => {
  const nats = suiteNats();

  it("nats.js writes its buffer inline once it holds pendingLimit bytes", async () => {
    const nc = await connect({ servers: nats.url });
    try {
      assert.ok(nc instanceof NatsConnectionImpl, "a connection is nats.js's NatsConnectionImpl");
      const protocol = nc.protocol;
      assert.equal(protocol.pendingLimit, MAX_SLICE_BYTES, "nats.js's own threshold is the slices' ceiling");
      protocol.pendingLimit = 1_000;
      const body = new Uint8Array(600);
      nc.publish("write-slices.a", body);
      assert.ok(protocol.outbound.size() >= 600, "the first publish waits for the turn's end");
      nc.publish("write-slices.a", body);
      assert.equal(protocol.outbound.size(), 0, "past the threshold the buffer was written at once");
      protocol.pendingLimit = MAX_SLICE_BYTES;
      nc.publish("write-slices.a", body);
      nc.publish("write-slices.a", body);
      assert.ok(protocol.outbound.size() >= 1_200, "under it, the turn's commands wait together");
      await nc.flush();
    } finally {
      await nc.close();
    }
  });

  it("a caller with 64 calls in flight writes them in halves, and a lone call leaves nats.js's threshold", async (t) => {
    const server = await meshFor(t, nats.url, "echo");
    await server.serve(echoContract, { say: ({ text }) => ({ text }), sayAgain: ({ text }) => ({ text }) });
    const caller = await meshFor(t, nats.url, "caller");
    const nc = caller.connection;
    assert.ok(nc instanceof NatsConnectionImpl);
    const echo = caller.client(echoContract);
    await echo.say({ text: "one" });
    assert.equal(nc.protocol.pendingLimit, MAX_SLICE_BYTES, "one call in flight: nats.js's own threshold");
    const text = "x".repeat(200);
    await Promise.all(Array.from({ length: 64 }, () => echo.say({ text })));
    const limit = nc.protocol.pendingLimit;
    // 64 requests of 300-odd bytes: half of them is 9–12 KB
    assert.ok(limit > 8 * 1024 && limit < 16 * 1024, `half of 64 requests, got ${limit}`);
    // and the next burst of 64 (~23 KB, one write without the slices) leaves in pieces
    const { transport } = nc.protocol;
    const send = transport.send.bind(transport);
    const writes: number[] = [];
    transport.send = (frame: Uint8Array) => {
      writes.push(frame.length);
      send(frame);
    };
    try {
      await Promise.all(Array.from({ length: 64 }, () => echo.say({ text })));
    } finally {
      transport.send = send;
    }
    const total = writes.reduce((a, b) => a + b, 0);
    assert.ok(total > 64 * 300, `the burst was written (${total} bytes)`);
    assert.ok(Math.max(...writes) < 16 * 1024, `no write held the whole burst: ${writes.join(", ")}`);
  });
});
