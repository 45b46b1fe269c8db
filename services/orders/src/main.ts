// The orders service process: `node --import tsx services/orders/src/main.ts`.
import { connectMesh, drainOnSignals } from "@switchyard/runtime";
import { startTelemetry } from "@switchyard/telemetry";
import { Redis } from "ioredis";
import { ordersContract } from "./contract.js";
import { memoryOrderStore, ordersHandlers, redisOrderStore, releaseDetached } from "./orders.js";

// before connecting: the mesh takes its meter when it connects
const telemetry = await startTelemetry({ serviceName: "orders" });
const mesh = await connectMesh({ name: "orders" });
// orders live in Redis when there is one, so every instance can read every order
const redisUrl = process.env["REDIS_URL"];
const redis = redisUrl ? new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true }) : undefined;
await redis?.connect();
drainOnSignals(mesh, {
  after: async () => {
    redis?.disconnect();
    await telemetry.shutdown();
  },
});
await mesh.serve(
  ordersContract,
  ordersHandlers(redis ? redisOrderStore(redis) : memoryOrderStore(), releaseDetached),
);
