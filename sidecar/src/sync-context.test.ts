import assert from "node:assert/strict";
import { it } from "node:test";
import { createContextKey, ROOT_CONTEXT } from "@opentelemetry/api";
import { SyncContextManager } from "./sync-context.js";

const KEY = createContextKey("test");

it("holds the context while with()'s function runs synchronously, and restores the previous one", () => {
  const manager = new SyncContextManager();
  const outer = ROOT_CONTEXT.setValue(KEY, "outer");
  const inner = ROOT_CONTEXT.setValue(KEY, "inner");
  const seen = manager.with(outer, () => {
    const during = manager.with(
      inner,
      (a: number, b: number) => [manager.active().getValue(KEY), a + b],
      undefined,
      1,
      2,
    );
    return [during, manager.active().getValue(KEY)];
  });
  assert.deepEqual(seen, [["inner", 3], "outer"]);
  assert.equal(manager.active(), ROOT_CONTEXT);
});

it("restores the previous context when the function throws", () => {
  const manager = new SyncContextManager();
  assert.throws(() =>
    manager.with(ROOT_CONTEXT.setValue(KEY, "x"), () => {
      throw new Error("boom");
    }),
  );
  assert.equal(manager.active(), ROOT_CONTEXT);
});

it("is the root again after the function's first await (it costs nothing across async hops)", async () => {
  const manager = new SyncContextManager();
  const ctx = ROOT_CONTEXT.setValue(KEY, "x");
  const after = await manager.with(ctx, async () => {
    assert.equal(manager.active(), ctx);
    await Promise.resolve();
    return manager.active();
  });
  assert.equal(after, ROOT_CONTEXT);
});

it("binds a function to a context, with its this and arguments", () => {
  const manager = new SyncContextManager();
  const ctx = ROOT_CONTEXT.setValue(KEY, "bound");
  const bound = manager.bind(ctx, function (this: { n: number }, m: number) {
    return [manager.active().getValue(KEY), this.n + m];
  });
  assert.deepEqual(bound.call({ n: 1 }, 2), ["bound", 3]);
  assert.equal(manager.bind(ctx, 5), 5);
});
