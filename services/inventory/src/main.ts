// The inventory service process: `node --import tsx services/inventory/src/main.ts`.
import { connectMesh, drainOnSignals } from "@switchyard/runtime";
import { startTelemetry } from "@switchyard/telemetry";
import { inventoryContract } from "./contract.js";
import { inventoryHandlers } from "./inventory.js";

// before connecting: the mesh takes its meter when it connects
const telemetry = await startTelemetry({ serviceName: "inventory" });
const mesh = await connectMesh({ name: "inventory" });
drainOnSignals(mesh, { after: telemetry.shutdown });
await mesh.serve(
  inventoryContract,
  inventoryHandlers({
    stock: { "WIDGET-1": 1_000, "GADGET-2": 500, "GIZMO-3": 5 },
    latencyMs: Number(process.env["INVENTORY_LATENCY_MS"] ?? 0),
    restockEveryMs: 10_000, // the demo load takes about 16 units a second across both instances
  }),
);
