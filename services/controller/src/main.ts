// The controller process: `node services/controller/dist/main.js` (in development, through tsx).
import { drainOnSignals } from "@switchyard/runtime";
import { startTelemetry } from "@switchyard/telemetry";
import { startController } from "./controller.js";

// before connecting: the mesh takes its meter when it connects
const telemetry = await startTelemetry({ serviceName: "controller" });
const dashboardPort = process.env["DASHBOARD_PORT"];
const token = process.env["DASHBOARD_TOKEN"];
// names besides loopback the dashboard answers to (comma-separated): the one a proxy serves it under
const extraHosts = (process.env["DASHBOARD_ALLOWED_HOSTS"] ?? "").split(",").filter(Boolean);
const controller = await startController({
  replicas: Number(process.env["POLICY_REPLICAS"] ?? 1),
  // the dashboard when a port is given; writes (apply, rollback) only with a token
  ...(dashboardPort
    ? {
        dashboard: {
          port: Number(dashboardPort),
          host: process.env["DASHBOARD_HOST"] || "127.0.0.1",
          allowedHosts: extraHosts,
          ...(token ? { token } : {}),
        },
      }
    : {}),
});
drainOnSignals(controller.mesh, { before: controller.close, after: telemetry.shutdown });
