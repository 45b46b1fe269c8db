// Issue 19: the trace passes through a sidecar in a process with no OpenTelemetry SDK (the
// sidecar's own context manager, synchronous): a call out made with a `traceparent` goes out in
// that trace, and the request it becomes is forwarded to the app with a `traceparent` in it too.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { it } from "node:test";
import { defineContract } from "@switchyard/runtime";
import { contractFileOf, startSidecar } from "@switchyard/sidecar";
import { z } from "zod";
import { waitFor } from "./fixtures/eventually.js";
import { startNats } from "./fixtures/nats-server.js";
import { scratchDir } from "./fixtures/processes.js";
import { callThrough } from "./fixtures/sidecar-app.js";

const Echo = z.strictObject({ n: z.number().int() });
const echoer = defineContract({
  name: "echoer",
  version: "1.0.0",
  endpoints: { echo: { input: Echo, output: Echo } },
});

it("without an SDK, a call out joins the app's traceparent and the callee's app gets that trace", async (t) => {
  const nats = await startNats(t);
  const seen: IncomingHttpHeaders[] = [];
  const app = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "POST") seen.push(req.headers);
      const body = req.method === "POST" ? Buffer.concat(chunks) : Buffer.from("{}");
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => app.close(() => resolve())));
  const contractFile = join(scratchDir(t, "sidecar-trace"), "echoer.json");
  writeFileSync(contractFile, JSON.stringify(contractFileOf(echoer)));
  const sidecar = await startSidecar({
    contractFile,
    app: `http://127.0.0.1:${(app.address() as AddressInfo).port}`,
    port: 0,
    healthPath: "/",
    healthIntervalMs: 50,
    mesh: { servers: nats.url, logLevel: "silent" },
  });
  t.after(() => sidecar.close());
  await waitFor("the sidecar to serve", () => sidecar.serving, 10_000);

  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  // the sidecar calls its own service: out through its API, in from the mesh, on to the app
  const answer = await callThrough(
    sidecar,
    "echoer",
    "echo",
    { n: 7 },
    {
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    },
  );
  assert.deepEqual([answer.status, answer.body], [200, { n: 7 }]);
  assert.equal(seen.length, 1);
  assert.match(String(seen[0]?.["traceparent"]), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  assert.ok(seen[0]?.["mesh-request-id"], "the request id the app's own calls name");
});
