// Issue 6 (and 5's breaker metrics): a service's Prometheus endpoint passes `promtool check
// metrics` and counts what happened: call durations, retries, sheds, breaker transitions.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { defineContract, isMeshError, MeshError } from "@switchyard/runtime";
import { startTelemetry } from "@switchyard/telemetry";
import { z } from "zod";
import { meshFor } from "./fixtures/mesh.js";
import { startNats } from "./fixtures/nats-server.js";
import { binary, freePort } from "./fixtures/processes.js";

const metered = defineContract({
  name: "metered",
  version: "1.0.0",
  endpoints: {
    echo: { input: z.object({ n: z.number() }), output: z.object({ n: z.number() }) },
    broken: { input: z.object({}), output: z.object({}) },
  },
});

function promtool(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      binary("promtool", "/usr/bin/promtool"),
      ["check", "metrics"],
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), output: stdout + stderr }),
    );
    child.stdin?.end(text);
  });
}

/** The value of the first sample whose name and labels match. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return undefined;
}

describe("metrics", () => {
  it("the Prometheus endpoint passes promtool and holds the duration histogram with the right counts", async (t) => {
    const port = await freePort();
    const telemetry = await startTelemetry({
      serviceName: "metered",
      metricsPort: port,
      metricsHost: "127.0.0.1",
    });
    t.after(() => telemetry.shutdown());
    const nats = await startNats(t);
    const server = await meshFor(t, nats.url, "metered");
    await server.serve(metered, {
      echo: ({ n }) => ({ n }),
      broken: () => {
        throw new MeshError("UNAVAILABLE", "down");
      },
    });
    const caller = await meshFor(t, nats.url, "caller", {
      calls: {
        breaker: { minimumCalls: 4, openMs: 60_000 },
        retry: { maxAttempts: 2, backoff: { baseMs: 1, maxMs: 1_000 } },
      },
    });
    const N = 57;
    for (let n = 0; n < N; n++) await caller.call("metered", "echo", { n });
    const codes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const e = await caller.call("metered", "broken", {}, { idempotent: true }).catch((x: unknown) => x);
      codes.push(isMeshError(e) ? e.code : String(e));
    }
    assert.ok(codes.includes("CIRCUIT_OPEN"), codes.join());

    assert.ok(telemetry.metricsUrl);
    const text = await (await fetch(telemetry.metricsUrl)).text();
    const checked = await promtool(text);
    assert.equal(checked.code, 0, checked.output);

    const echo = { rpc_method: "metered/echo", rpc_response_status_code: "OK" };
    assert.equal(sample(text, "rpc_server_call_duration_count", echo), N);
    assert.equal(sample(text, "rpc_client_call_duration_count", echo), N);
    assert.equal(sample(text, "rpc_server_call_duration_bucket", { ...echo, le: "+Inf" }), N);
    const broken = { rpc_method: "metered/broken" };
    // 4 calls of 2 attempts each reached the server before the breaker opened
    assert.equal(
      sample(text, "rpc_server_call_duration_count", {
        ...broken,
        rpc_response_status_code: "UNAVAILABLE",
      }),
      8,
    );
    assert.equal(sample(text, "mesh_client_retries_total", { ...broken, error_type: "UNAVAILABLE" }), 4);
    assert.equal(
      sample(text, "mesh_breaker_transitions_total", { ...broken, mesh_breaker_state: "open" }),
      1,
    );
    assert.equal(sample(text, "mesh_breaker_state", broken), 2);
    assert.equal(
      sample(text, "rpc_client_call_duration_count", {
        ...broken,
        rpc_response_status_code: "CIRCUIT_OPEN",
      }),
      2,
    );
    assert.equal(sample(text, "mesh_server_active_requests", { rpc_method: "metered/echo" }), 0);
  });
});
