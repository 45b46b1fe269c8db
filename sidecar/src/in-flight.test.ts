import assert from "node:assert/strict";
import { it } from "node:test";
import type { HandlerContext } from "@switchyard/runtime";
import { type HandledRequest, InFlightRequests } from "./in-flight.js";

const ctx = {} as HandlerContext;
const request = (id: string, traceId?: string): HandledRequest => ({ id, traceId, ctx });

it("a call out finds its request by id, else by trace (the latest of that trace)", () => {
  const inFlight = new InFlightRequests();
  const a = request("a", "t1");
  const b = request("b", "t1");
  const c = request("c");
  for (const r of [a, b, c]) inFlight.add(r);
  assert.equal(inFlight.find("a", "t1"), a);
  assert.equal(inFlight.find(undefined, "t1"), b);
  assert.equal(inFlight.find("gone", "t1"), b);
  assert.equal(inFlight.find("c", undefined), c);
  assert.equal(inFlight.find(undefined, "t2"), undefined);
  inFlight.delete(b);
  assert.equal(inFlight.find(undefined, "t1"), a);
  inFlight.delete(a);
  inFlight.delete(c);
  assert.equal(inFlight.find(undefined, "t1"), undefined);
  assert.equal(inFlight.size, 0);
});
