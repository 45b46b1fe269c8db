// Issue 7: hostile input at a running service. ≥ 10,000 random and malformed messages: each gets an
// error reply or is dropped by the broker (or refused by the client library before sending); the
// process stays up, its memory stays bounded, and a normal call afterwards succeeds.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { isMeshError } from "@switchyard/runtime";
import { inventoryContract } from "@switchyard/service-inventory";
import { eventually } from "./fixtures/eventually.js";
import { meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import { freePort, ServerProcess, scratchDir } from "./fixtures/processes.js";

const MAX_PAYLOAD = 64 * 1024;
const MESSAGES = 10_000;
const RAW_MESSAGES = 300;

/** A small seeded PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function rssKb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1]);
}

const BAD_HEADERS: Array<[string, string]> = [
  ["Mesh-Timeout", "soon"],
  ["Mesh-Timeout", "99999999999999"],
  ["Mesh-Attempt", "0"],
  ["Mesh-Tenant", "not a tenant!"],
  ["Mesh-Caller", "caller with spaces"],
  ["Content-Type", "text/plain"],
  ["Idempotency-Key", "x".repeat(300)],
];

const RAW_HEADER_BLOCKS = [
  "NATS/1.0\r\nMesh-Timeout\r\n\r\n",
  "NATS/1.0\r\n: no-name\r\n\r\n",
  "GARBAGE\r\n\r\n",
  "NATS/1.0\r\nMesh-Timeout: 12\u0000\r\n\r\n",
  "NATS/1.0\r\nMesh-Attempt: -1\r\nMesh-Attempt: 2\r\n\r\n",
  "NATS/1.0 503\r\n\r\n",
];

describe("hostile input", () => {
  it(`${MESSAGES + RAW_MESSAGES} random and malformed messages: each answered or dropped; the service stays up and bounded`, async (t) => {
    const dir = scratchDir(t, "fuzz");
    const config = join(dir, "nats.conf");
    writeFileSync(config, `max_payload: ${MAX_PAYLOAD}\n`);
    const nats = await startNats(t, { args: ["-c", config] });
    const service = new ServerProcess(
      process.execPath,
      ["--import", "tsx", "services/inventory/src/main.ts"],
      {
        ...process.env,
        NATS_URL: nats.url,
        MESH_METRICS_PORT: String(await freePort()),
      },
    );
    service.start();
    t.after(() => service.kill());
    const caller = await meshFor(t, nats.url, "fuzzer");
    const stock = () => caller.client(inventoryContract).stock({ sku: "WIDGET-1" }, { timeoutMs: 2_000 });
    await eventually(
      async () => assert.ok(!isMeshError(await stock().catch((e: unknown) => e))),
      20_000,
      100,
    );
    const pid = service.pid as number;
    const rssBefore = rssKb(pid);

    const nc = await connect({ servers: nats.url, name: "fuzz" });
    t.after(() => nc.close());
    const answered = new Set<string>();
    nc.subscribe("_fuzz.>", {
      callback: (_err, m) => {
        answered.add(m.subject);
      },
    });
    const random = prng(7);
    const int = (n: number) => Math.floor(random() * n);
    const expected = new Set<string>();
    let refusedByClient = 0;
    let withoutReply = 0;
    for (let i = 0; i < MESSAGES; i++) {
      const reply = `_fuzz.${i}`;
      let subject = "mesh.svc.inventory.stock";
      let data: Uint8Array = new Uint8Array(0);
      const h = natsHeaders();
      switch (i % 10) {
        case 0:
          data = Uint8Array.from({ length: int(3_000) }, () => int(256));
          break;
        case 1:
          data = Buffer.from(JSON.stringify({ sku: int(1e9), extra: [1, { a: null }] }));
          break;
        case 2: {
          const depth = 200 + int(20_000);
          data = Buffer.from("[".repeat(depth) + "]".repeat(depth));
          break;
        }
        case 3:
          data = Buffer.from(JSON.stringify({ sku: "W".repeat(1_000 + int(60_000)) }));
          break;
        case 4: {
          const [k, v] = BAD_HEADERS[int(BAD_HEADERS.length)] as [string, string];
          h.set(k, v);
          data = Buffer.from('{"sku":"WIDGET-1"}');
          break;
        }
        case 5:
          subject = "mesh.svc.inventory.nope";
          break;
        case 6:
          subject = `mesh.svc.inventory.${int(1e6).toString(36)}.${int(1e6).toString(36)}`;
          data = Uint8Array.from({ length: int(100) }, () => int(256));
          break;
        case 7:
          data = new Uint8Array(MAX_PAYLOAD + 1 + int(10_000));
          break;
        case 8:
          // no reply subject: nobody can be answered, the service logs and drops it
          nc.publish(subject, Buffer.from('{"sku":"WIDGET-1"}'));
          withoutReply++;
          continue;
        default:
          data = Buffer.from('{"sku":"GADGET-2"}');
      }
      try {
        nc.publish(subject, data, { reply, ...(h.keys().length > 0 ? { headers: h } : {}) });
        expected.add(reply);
      } catch {
        refusedByClient++; // over max_payload: nats.js refuses before sending
      }
      if (i % 500 === 0) await nc.flush();
    }
    await nc.flush();

    // malformed header blocks need a raw socket: nats.js will not write them
    const rawErrors: string[] = [];
    const socket = tcpConnect(nats.port, "127.0.0.1");
    t.after(() => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString("latin1").split("\r\n"))
        if (line.startsWith("-ERR")) rawErrors.push(line);
    });
    socket.write('CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n');
    for (let i = 0; i < RAW_MESSAGES; i++) {
      const hdr = Buffer.from(RAW_HEADER_BLOCKS[i % RAW_HEADER_BLOCKS.length] as string, "latin1");
      const body = Buffer.from('{"sku":"WIDGET-1"}');
      const reply = `_fuzz.raw.${i}`;
      socket.write(`HPUB mesh.svc.inventory.stock ${reply} ${hdr.length} ${hdr.length + body.length}\r\n`);
      socket.write(Buffer.concat([hdr, body, Buffer.from("\r\n")]));
      expected.add(reply);
    }
    socket.write("PING\r\n");

    await eventually(
      () => {
        const missing = [...expected].filter((r) => !answered.has(r));
        assert.ok(
          missing.length === 0,
          `${missing.length} unanswered, e.g. ${missing.slice(0, 5).join(", ")}`,
        );
      },
      30_000,
      100,
    );
    assert.deepEqual(rawErrors, [], "the broker took every raw message");
    assert.ok(
      refusedByClient > 0 && refusedByClient + expected.size + withoutReply === MESSAGES + RAW_MESSAGES,
    );
    // a call after every raw message: the service has read them all and still answers
    assert.deepEqual(await stock(), { sku: "WIDGET-1", available: 1_000 });
    assert.ok(service.pid !== undefined && rssKb(pid) > 0, "the service is still up");
    const grownMb = (rssKb(pid) - rssBefore) / 1024;
    t.diagnostic(
      `${expected.size} answered, ${refusedByClient} refused by nats.js (over max_payload), ${withoutReply} without a reply subject; RSS grew ${grownMb.toFixed(1)} MB`,
    );
    assert.ok(grownMb < 128, `RSS grew by ${grownMb.toFixed(1)} MB`);
    assert.deepEqual(await stock(), { sku: "WIDGET-1", available: 1_000 });
  });
});
