import assert from "node:assert/strict";
import { it } from "node:test";
import {
  type Context,
  type ContextManager,
  context,
  createContextKey,
  ROOT_CONTEXT,
} from "@opentelemetry/api";
import { startTelemetry } from "./start-telemetry.js";

const MARK = createContextKey("mark");

/** A context manager whose every context carries a mark: the one in use is the one given. */
class MarkedContextManager implements ContextManager {
  active(): Context {
    return ROOT_CONTEXT.setValue(MARK, "given");
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    _context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return fn.call(thisArg, ...args);
  }
  bind<T>(_context: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

it("installs the context manager it is given instead of the SDK's default", async (t) => {
  const telemetry = await startTelemetry({
    serviceName: "telemetry-test",
    metricsPort: false,
    contextManager: new MarkedContextManager(),
  });
  t.after(() => telemetry.shutdown());
  assert.equal(context.active().getValue(MARK), "given");
});
