// Received requests made in memory for the profile tools that drive a service's subscription
// callback directly (server-loop, ab-server): the header block a mesh caller sends and the
// 100-byte order, with replies going to a publisher that counts and drops them.
import type { Msg } from "@nats-io/nats-core";
import { MsgImpl } from "@nats-io/nats-core/internal";
import { ORDER_BYTES } from "../echo-contract.js";

const te = new TextEncoder();
const subject = te.encode("mesh.svc.bench.echo");

/** A service subscription's callback, as nats.js calls it. */
export type ServeCallback = (err: Error | null, msg: Msg) => void;

// requests handed to the callback before the event loop turns, as a socket read delivers them
const BATCH = 64;

export interface LoopRequests {
  /** Request `n`, as the subscription would receive it. */
  request(n: number): Msg;
  /** Feeds `serve` `count` requests in batches; returns the CPU µs spent per request. */
  round(serve: ServeCallback, count: number): Promise<number>;
  /** Replies published so far. */
  readonly replies: number;
}

export function loopRequests(): LoopRequests {
  let replies = 0;
  const publisher = {
    publish: () => {
      replies++;
    },
  };
  const request = (n: number): Msg => {
    const headers = `NATS/1.0\r\nMesh-Caller: bench-caller\r\nMesh-Timeout: 5000\r\nIdempotency-Key: key${n}\r\n\r\n`;
    const hdr = te.encode(headers);
    const data = new Uint8Array(hdr.length + ORDER_BYTES.length);
    data.set(hdr);
    data.set(ORDER_BYTES, hdr.length);
    const args = {
      subject,
      reply: te.encode(`_INBOX.loop.${n}`),
      sid: 1,
      hdr: hdr.length,
      size: data.length,
    };
    return new MsgImpl(args as never, data, publisher as never) as unknown as Msg;
  };
  return {
    request,
    async round(serve, count) {
      const before = process.cpuUsage();
      for (let i = 0; i < count; i += BATCH) {
        for (let j = 0; j < BATCH; j++) serve(null, request(i + j));
        // what a handler awaits settles before the next batch, as between two reads of the socket
        await new Promise((resolve) => setImmediate(resolve));
      }
      const cpu = process.cpuUsage(before);
      return (cpu.user + cpu.system) / count;
    },
    get replies() {
      return replies;
    },
  };
}
