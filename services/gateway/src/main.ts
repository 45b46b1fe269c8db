// The gateway process: `node --import tsx services/gateway/src/main.ts`.
import { connectMesh, drainOnSignals } from "@switchyard/runtime";
import { startTelemetry } from "@switchyard/telemetry";
import { ApiKeys } from "./api-keys.js";
import { gatewayContract } from "./contract.js";
import { startGateway } from "./gateway.js";

// before connecting: the mesh takes its meter when it connects
const telemetry = await startTelemetry({ serviceName: "gateway" });
const mesh = await connectMesh({ name: "gateway" });
// served for discovery: the gateway's view of its own calls (breakers, failures) reaches the screens
await mesh.serve(gatewayContract, { health: () => ({ status: "ok" as const }) });
const keysFile = process.env["GATEWAY_KEYS_FILE"] ?? "examples/api-keys.json";
const keys = new ApiKeys(keysFile, (error) => mesh.log.error({ err: error }, "API keys not reloaded"));
const gateway = await startGateway({
  mesh,
  keys,
  port: Number(process.env["GATEWAY_PORT"] ?? 8080),
  host: process.env["GATEWAY_HOST"] || "127.0.0.1",
});
mesh.log.info({ url: gateway.url, keysFile }, "gateway listening");
// HTTP first, so no request arrives at a draining mesh
drainOnSignals(mesh, { before: gateway.close, after: telemetry.shutdown });
