import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { pino } from "pino";
import { isMeshError } from "../errors.js";
import { monotonicNow } from "../resilience/clock.js";
import { noRequestMeta } from "../wire/request-headers.js";
import { type ContextHost, RequestContext } from "./context.js";

const meta = noRequestMeta();
const host = { log: pino({ level: "silent" }) } as unknown as ContextHost;

function requestContext(deadlineAt: number): RequestContext {
  return new RequestContext(
    "svc",
    "op",
    meta,
    deadlineAt,
    host,
    ROOT_CONTEXT,
    trace.wrapSpanContext({} as never),
  );
}

const codeOf = (reason: unknown) => (isMeshError(reason) ? reason.code : reason);

describe("RequestContext signal", () => {
  it("a cancel before the signal is read leaves it aborted with CANCELLED when read", () => {
    const ctx = requestContext(monotonicNow() + 60_000);
    ctx.cancel();
    assert.equal(ctx.signal.aborted, true);
    assert.equal(codeOf(ctx.signal.reason), "CANCELLED");
    ctx.dispose();
  });

  it("a cancel after the signal is read aborts it with CANCELLED", () => {
    const ctx = requestContext(monotonicNow() + 60_000);
    const signal = ctx.signal;
    assert.equal(signal.aborted, false);
    ctx.cancel();
    assert.equal(codeOf(signal.reason), "CANCELLED");
    ctx.dispose();
  });

  it("a signal read past the deadline is aborted with DEADLINE_EXCEEDED, not CANCELLED", () => {
    const ctx = requestContext(monotonicNow() - 1);
    assert.equal(codeOf(ctx.signal.reason), "DEADLINE_EXCEEDED");
    ctx.cancel();
    assert.equal(codeOf(ctx.signal.reason), "DEADLINE_EXCEEDED");
  });
});
