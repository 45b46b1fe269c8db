// The orders service process: `node --import tsx services/orders/src/main.ts`.
import { connectMesh, drainOnSignals } from "@switchyard/runtime";
import { ordersContract } from "./contract.js";
import { ordersHandlers } from "./orders.js";

const mesh = await connectMesh({ name: "orders" });
drainOnSignals(mesh);
await mesh.serve(ordersContract, ordersHandlers());
