import assert from "node:assert/strict";
import { it } from "node:test";
import { isMeshError } from "@switchyard/runtime";
import { parseSidecarOptions } from "./options.js";

const refused = (input: Parameters<typeof parseSidecarOptions>[0], pattern: RegExp) =>
  assert.throws(
    () => parseSidecarOptions(input),
    (e: unknown) => isMeshError(e) && e.code === "INVALID_ARGUMENT" && pattern.test(e.message),
  );

it("defaults: port 3500, /health every second, unready after two failed checks", () => {
  const o = parseSidecarOptions({ contractFile: "c.json", app: "http://127.0.0.1:8701" });
  assert.equal(o.port, 3500);
  assert.equal(o.healthPath, "/health");
  assert.equal(o.healthIntervalMs, 1_000);
  assert.equal(o.unhealthyAfter, 2);
  assert.ok(Object.isFrozen(o));
});

it("the app is on loopback, with a port and no path: the sidecar never forwards off the machine", () => {
  for (const app of [
    "http://10.0.0.7:8701",
    "http://example.com:80",
    "http://127.0.0.1",
    "http://127.0.0.1:8701/api",
    "https://127.0.0.1:8701",
    "http://user@evil.example:1@127.0.0.2:80",
    "not a url",
  ]) {
    refused({ contractFile: "c.json", app }, /app/);
  }
  for (const app of ["http://127.0.0.1:1", "http://localhost:8701", "http://[::1]:8701"]) {
    assert.equal(parseSidecarOptions({ contractFile: "c.json", app }).app, app);
  }
});

it("a contract needs an app; no contract needs a name; unknown options are refused", () => {
  refused({ contractFile: "c.json" }, /--app/);
  refused({}, /--name/);
  assert.equal(parseSidecarOptions({ name: "caller" }).name, "caller");
  refused({ name: "caller", host: "0.0.0.0" } as never, /host/);
  refused({ name: "bad name" }, /name/);
  refused({ name: "caller", port: 70_000 }, /port/);
});
