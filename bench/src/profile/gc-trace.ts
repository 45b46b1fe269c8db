// experiment: the responder under --trace-gc while the mesh (or floor b) runs at 64 in flight
import { runConcurrent } from "../measure.js";
import { startPrivate } from "../nats-server.js";
import { startResponder } from "../responder-process.js";
import { meshAndFloor } from "./mesh-and-floor.js";

const which = process.argv[2] ?? "mesh";
const nats = await startPrivate();
const responder = await startResponder(nats.url, {}, 20_000, (process.argv[3] ?? "--trace-gc").split(" "));
const callers = await meshAndFloor(nats.url);
const call = which === "mesh" ? callers.calls.mesh : callers.calls["floor-b"];
await runConcurrent(call, 64, 2_000);
process.stderr.write("=== MEASURE START\n");
const r = await runConcurrent(call, 64, 4_000);
process.stderr.write(`=== MEASURE END calls=${r.calls}\n`);
await callers.close();
await responder.stop();
await nats.stop();
