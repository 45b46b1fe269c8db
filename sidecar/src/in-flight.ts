import type { HandlerContext } from "@switchyard/runtime";

/** A request the app is handling: what its calls out inherit (tenant and token, deadline, trace). */
export interface HandledRequest {
  readonly id: string;
  readonly traceId: string | undefined;
  readonly ctx: HandlerContext;
}

/**
 * The requests forwarded to the app and not yet answered. A call the app makes while handling one
 * names it by the `Mesh-Request-Id` the sidecar gave it, or by the W3C `traceparent` it was
 * given (the app's own tracing may make a child span: the trace id is what is kept), so the call
 * runs as the runtime's `ctx.call()` would in a TypeScript handler.
 */
export class InFlightRequests {
  readonly #byId = new Map<string, HandledRequest>();
  readonly #byTrace = new Map<string, Set<HandledRequest>>();

  add(request: HandledRequest): void {
    this.#byId.set(request.id, request);
    if (request.traceId === undefined) return;
    let set = this.#byTrace.get(request.traceId);
    if (set === undefined) {
      set = new Set();
      this.#byTrace.set(request.traceId, set);
    }
    set.add(request);
  }

  delete(request: HandledRequest): void {
    this.#byId.delete(request.id);
    if (request.traceId === undefined) return;
    const set = this.#byTrace.get(request.traceId);
    set?.delete(request);
    if (set?.size === 0) this.#byTrace.delete(request.traceId);
  }

  /**
   * The handled request a call out belongs to: by id first; else by trace, and when several
   * requests of one trace are in flight, the latest to arrive.
   */
  find(id: string | undefined, traceId: string | undefined): HandledRequest | undefined {
    if (id !== undefined) {
      const byId = this.#byId.get(id);
      if (byId !== undefined) return byId;
    }
    if (traceId === undefined) return undefined;
    const set = this.#byTrace.get(traceId);
    if (set === undefined) return undefined;
    let latest: HandledRequest | undefined;
    for (const r of set) latest = r;
    return latest;
  }

  get size(): number {
    return this.#byId.size;
  }
}
