// The payments service process: `node --import tsx services/payments/src/main.ts`.
import { connectMesh, defineContract, drainOnSignals } from "@switchyard/runtime";
import { startTelemetry } from "@switchyard/telemetry";
import { paymentsContract } from "./contract.js";
import { paymentsHandlers, profileFromEnv } from "./payments.js";

const profile = profileFromEnv(process.env);
// before connecting: the mesh takes its meter when it connects
const telemetry = await startTelemetry({ serviceName: "payments" });
const mesh = await connectMesh({ name: "payments" });
drainOnSignals(mesh, { after: telemetry.shutdown });
// a canary (`npm start` runs one as 2.0.0) serves the same endpoints under another version, so
// policy routes can send it a share of the calls (docs/POLICY.md#routes)
const version = process.env["PAYMENTS_VERSION"];
const contract = version === undefined ? paymentsContract : defineContract({ ...paymentsContract, version });
await mesh.serve(contract, paymentsHandlers(profile));
mesh.log.info(profile, "payments profile");
