// The far side of the request-reply suite, in its own process (spawned by responder-process.ts):
// the mesh serving the echo contract with default options (also on a broker that vouches identity,
// when BENCH_SECURE_NATS_URL and BENCH_SECURE_SEED name it), Moleculer's echo action for the peer,
// and a raw nats.js echo for the floors.
import { connect } from "@nats-io/transport-node";
import { connectMesh } from "@switchyard/runtime";
import {
  coreContract,
  echoContract,
  RAW_ECHO_SUBJECT,
  tracedContract,
  WITHOUT_FLOW_CONTROL,
} from "./echo-contract.js";
import { startPeerResponder } from "./moleculer-peer.js";
import type { ResponderCommand, ResponderEvent } from "./responder-process.js";
import { benchTracerProvider } from "./tracing-provider.js";

function tell(event: ResponderEvent): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve();
    else process.send(event, undefined, undefined, () => resolve());
  });
}

async function main(): Promise<void> {
  const servers = process.env["NATS_URL"];
  if (servers === undefined) throw new Error("NATS_URL is not set");
  // the default logger at the default level "info"; our stdout is the runner's stderr
  const mesh = await connectMesh({ name: "bench", servers });
  await mesh.serve(echoContract, { echo: (order) => order });
  const core = await connectMesh({ name: "bench-core", servers, ...WITHOUT_FLOW_CONTROL });
  await core.serve(coreContract, { echo: (order) => order });
  const tracerProvider = benchTracerProvider();
  const traced = await connectMesh({ name: "bench-traced", servers, telemetry: { tracerProvider } });
  await traced.serve(tracedContract, { echo: (order) => order });

  const peer = await startPeerResponder(servers);
  // the same endpoint on the broker that vouches identity (request-reply's mesh-secure client)
  const secureServers = process.env["BENCH_SECURE_NATS_URL"];
  const secureSeed = process.env["BENCH_SECURE_SEED"];
  const secure =
    secureServers === undefined || secureSeed === undefined
      ? undefined
      : await connectMesh({
          name: echoContract.name,
          servers: secureServers,
          auth: { nkeyFile: secureSeed },
        });
  await secure?.serve(echoContract, { echo: (order) => order });

  const nc = await connect({ servers, name: "bench-raw-responder" });
  nc.subscribe(RAW_ECHO_SUBJECT, {
    callback: (_err, msg) => {
      msg.respond(msg.data);
    },
  });
  await nc.flush();

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await Promise.all([
        mesh.close(),
        core.close(),
        traced.close(),
        secure?.close(),
        peer.stop(),
        nc.drain(),
      ]);
      await tracerProvider.shutdown();
    } finally {
      process.exit(0);
    }
  };
  process.on("message", (command: ResponderCommand) => {
    if (command.type === "stop") void stop();
  });
  // the runner is gone (crashed or killed): nobody will ask us to stop
  process.once("disconnect", () => void stop());
  await tell({ type: "ready" });
}

main().catch(async (error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`bench responder: ${message}\n`);
  await tell({ type: "failed", message });
  process.exit(1);
});
