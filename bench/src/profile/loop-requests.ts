// Received requests made in memory for the profile tools that drive a service's subscription
// callback directly (server-loop, ab-server): the header block a mesh caller sends and the
// 100-byte order, with replies going to a publisher that counts and drops them.
import type { Msg } from "@nats-io/nats-core";
import { MsgImpl } from "@nats-io/nats-core/internal";
import { ORDER_BYTES } from "../echo-contract.js";

const te = new TextEncoder();
const subject = te.encode("mesh.svc.bench.echo");

export interface LoopRequests {
  /** Request `n`, as the subscription would receive it. */
  request(n: number): Msg;
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
  return {
    request(n) {
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
    },
    get replies() {
      return replies;
    },
  };
}
