import { MeshError } from "@switchyard/runtime";
import type { FastifyInstance, FastifyReply } from "fastify";

/** One open server-sent stream: write events while the client reads. */
export interface EventStream {
  /** Sends `event`; dropped (not queued) while the client has not read the last ones. */
  send(event: string, data: unknown): void;
  /** Called once when the client leaves or the server closes. */
  onClose(listener: () => void): void;
}

/**
 * The server-sent event streams of one HTTP edge, at most `max` at once (`OVERLOADED` past it).
 * Closing the edge ends them, since an open stream would otherwise hold its close forever.
 */
export class EventStreams {
  readonly #max: number;
  readonly #open = new Set<FastifyReply>();

  constructor(app: FastifyInstance, max: number) {
    this.#max = max;
    app.addHook("preClose", async () => {
      for (const reply of this.#open) {
        // the stream said keep-alive: end its connection too, or it would hold the close
        const socket = reply.raw.socket;
        reply.raw.end(() => socket?.end());
      }
    });
  }

  /** Takes the reply over (Fastify sends nothing more on it) and starts the stream. */
  open(reply: FastifyReply): EventStream {
    if (this.#open.size >= this.#max)
      throw new MeshError("OVERLOADED", `${this.#max} streams are open already`);
    this.#open.add(reply);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
    });
    res.write(": switchyard\n\n");
    res.once("close", () => this.#open.delete(reply));
    return {
      send: (event, data) => {
        if (!res.writableNeedDrain) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      },
      onClose: (listener) => {
        res.once("close", listener);
      },
    };
  }
}
