// The payments service process: `node --import tsx services/payments/src/main.ts`.
import { connectMesh, drainOnSignals } from "@switchyard/runtime";
import { startTelemetry } from "@switchyard/telemetry";
import { paymentsContract } from "./contract.js";
import { paymentsHandlers, profileFromEnv } from "./payments.js";

const profile = profileFromEnv(process.env);
// before connecting: the mesh takes its meter when it connects
const telemetry = await startTelemetry({ serviceName: "payments" });
const mesh = await connectMesh({ name: "payments" });
drainOnSignals(mesh, { after: telemetry.shutdown });
await mesh.serve(paymentsContract, paymentsHandlers(profile));
mesh.log.info(profile, "payments profile");
