// The controller process: `node --import tsx services/controller/src/main.ts`.
import { drainOnSignals } from "@switchyard/runtime";
import { startTelemetry } from "@switchyard/runtime/telemetry";
import { startController } from "./controller.js";

// before connecting: the mesh takes its meter when it connects
const telemetry = await startTelemetry({ serviceName: "controller" });
const controller = await startController({
  replicas: Number(process.env["POLICY_REPLICAS"] ?? 1),
});
drainOnSignals(controller.mesh, { after: telemetry.shutdown });
