// The orders service process: `node --import tsx services/orders/src/main.ts`.
import { connectMesh, drainOnSignals } from "@switchyard/runtime";
import { startTelemetry } from "@switchyard/runtime/telemetry";
import { ordersContract } from "./contract.js";
import { ordersHandlers } from "./orders.js";

// before connecting: the mesh takes its meter when it connects
const telemetry = await startTelemetry({ serviceName: "orders" });
const mesh = await connectMesh({ name: "orders" });
drainOnSignals(mesh, { after: telemetry.shutdown });
await mesh.serve(ordersContract, ordersHandlers());
