import assert from "node:assert/strict";
import { test } from "node:test";
import { isMeshError } from "../errors.js";
import { formatRouteHeader, parseRouteHeader } from "./route-header.js";

test("Mesh-Route: route headers (names lower-cased) and pins, round trip", () => {
  const state = parseRouteHeader("Canary=1, @payments=2,region=eu-west.1");
  assert.deepEqual(
    [...state.headers],
    [
      ["canary", "1"],
      ["region", "eu-west.1"],
    ],
  );
  assert.deepEqual([...state.pins], [["payments", 2]]);
  assert.equal(formatRouteHeader(state), "canary=1,region=eu-west.1,@payments=2");
  assert.equal(formatRouteHeader({ headers: new Map(), pins: new Map() }), undefined);
});

test("Mesh-Route: the first value of a repeated name counts", () => {
  const state = parseRouteHeader("a=1,A=2,@p=1,@p=3");
  assert.equal(state.headers.get("a"), "1");
  assert.equal(state.pins.get("p"), 1);
});

test("Mesh-Route: malformed values are INVALID_ARGUMENT naming the header", () => {
  for (const bad of ["", "canary", "=1", "a=", "a=b c", "@p=x", "@=1", "@p=01", "a b=1", "x".repeat(1_025)]) {
    assert.throws(
      () => parseRouteHeader(bad),
      (e: unknown) => isMeshError(e) && e.code === "INVALID_ARGUMENT" && e.message.includes("Mesh-Route"),
      JSON.stringify(bad),
    );
  }
  const many = Array.from({ length: 17 }, (_, i) => `k${i}=v`).join(",");
  assert.throws(() => parseRouteHeader(many), /more than 16 entries/);
});
