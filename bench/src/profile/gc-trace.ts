// experiment: the responder under --trace-gc while the mesh (or floor b) runs at 64 in flight
import { connect } from "@nats-io/transport-node";
import { connectMesh } from "@switchyard/runtime";
import { pino } from "pino";
import { echoContract, ORDER, ORDER_BYTES, RAW_ECHO_SUBJECT } from "../echo-contract.js";
import { BareInboxFloor } from "../floors.js";
import { runConcurrent } from "../measure.js";
import { startPrivate } from "../nats-server.js";
import { startResponder } from "../responder-process.js";

const which = process.argv[2] ?? "mesh";
const nats = await startPrivate();
const responder = await startResponder(nats.url, {}, 20_000, (process.argv[3] ?? "--trace-gc").split(" "));
const mesh = await connectMesh({
  name: "bench-caller",
  servers: nats.url,
  logger: pino({ level: "info" }, pino.destination(2)),
});
const echo = mesh.client(echoContract);
const nc = await connect({ servers: nats.url });
const floor = new BareInboxFloor(nc);
const call = which === "mesh" ? () => echo.echo(ORDER) : () => floor.request(RAW_ECHO_SUBJECT, ORDER_BYTES);
await runConcurrent(call, 64, 2_000);
process.stderr.write("=== MEASURE START\n");
const r = await runConcurrent(call, 64, 4_000);
process.stderr.write(`=== MEASURE END calls=${r.calls}\n`);
await mesh.close();
await nc.drain();
await responder.stop();
await nats.stop();
