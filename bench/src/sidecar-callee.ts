// The far side of the sidecar suite, in its own process (spawned by suites/sidecar.ts): an HTTP
// echo app, and a sidecar serving the bench's echo contract (as a contract file) in front of it.
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineContract } from "@switchyard/runtime";
import { contractFileOf, startSidecar } from "@switchyard/sidecar";
import { pino } from "pino";
import { echoContract } from "./echo-contract.js";

function tell(event: { type: "ready" } | { type: "failed"; message: string }): void {
  process.send?.(event);
}

async function main(): Promise<void> {
  const servers = process.env["NATS_URL"];
  const service = process.env["SIDECAR_SERVICE"];
  if (servers === undefined || service === undefined)
    throw new Error("NATS_URL or SIDECAR_SERVICE is not set");
  // the app: what a service in another language does with the order, which is send it back
  const app = createServer((req, res) => {
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json", "content-length": 2 });
      res.end("{}");
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  app.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  const contract = defineContract({ ...echoContract, name: service });
  const contractFile = join(tmpdir(), `switchyard-bench-sidecar-${process.pid}.json`);
  writeFileSync(contractFile, JSON.stringify(contractFileOf(contract)));
  // the default level "info", on stderr (the runner's)
  const logger = pino({ level: "info", base: { service } }, pino.destination(2));
  const sidecar = await startSidecar({
    contractFile,
    app: appUrl,
    port: 0,
    healthPath: "/",
    mesh: { servers, logger },
  });
  process.on("message", () => {
    void sidecar.close().then(() => {
      app.close();
      process.exit(0);
    });
  });
  tell({ type: "ready" });
}

main().catch((error: unknown) => {
  tell({ type: "failed", message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
