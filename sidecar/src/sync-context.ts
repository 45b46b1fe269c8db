import { type Context, type ContextManager, ROOT_CONTEXT } from "@opentelemetry/api";

/**
 * An OpenTelemetry context manager that holds the active context only while the function given
 * to `with()` runs synchronously; after its first `await`, the active context is the root again.
 *
 * Why not `AsyncLocalStorageContextManager`: on Node 20, `AsyncLocalStorage` runs on promise
 * hooks, which tax every promise and async hop of the whole process (Fastify, the runtime,
 * nats.js), on every call. The sidecar reads the active context in two places only, both
 * synchronously inside a `context.with()`: the trace headers it forwards to the app (read at the
 * start of the handler, which the runtime runs in the request's context) and the parent of a call
 * out made outside any request (`mesh.call()` reads it before its first `await`). A process whose
 * SDK installed a context manager first keeps that one; both reads work under it too. Exported
 * so that such a process can give this one to its SDK instead (NodeSDK's `contextManager`).
 */
export class SyncContextManager implements ContextManager {
  #active: Context = ROOT_CONTEXT;

  active(): Context {
    return this.#active;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const previous = this.#active;
    this.#active = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.#active = previous;
    }
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== "function") return target;
    const run = target as unknown as (...args: unknown[]) => unknown;
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, run, this, ...args);
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#active = ROOT_CONTEXT;
    return this;
  }
}
