// The controller process: `node --import tsx services/controller/src/main.ts`.
import { drainOnSignals } from "@switchyard/runtime";
import { startController } from "./controller.js";

const controller = await startController({
  replicas: Number(process.env["POLICY_REPLICAS"] ?? 1),
});
drainOnSignals(controller.mesh);
