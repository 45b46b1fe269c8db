// The two callers every profile tool here compares, on one NATS server: the mesh's typed echo
// call (pino at info, as the bench's default pipeline) and floor b (a bare nats.js request).
import { connect } from "@nats-io/transport-node";
import { connectMesh } from "@switchyard/runtime";
import { pino } from "pino";
import { echoContract, ORDER, ORDER_BYTES, RAW_ECHO_SUBJECT } from "../echo-contract.js";
import { BareInboxFloor } from "../floors.js";
import type { Call } from "../measure.js";

export interface MeshAndFloor {
  readonly calls: Readonly<Record<"mesh" | "floor-b", Call>>;
  close(): Promise<void>;
}

export async function meshAndFloor(url: string): Promise<MeshAndFloor> {
  const logger = pino({ level: "info" }, pino.destination(2));
  const mesh = await connectMesh({ name: "bench-caller", servers: url, logger });
  const echo = mesh.client(echoContract);
  const nc = await connect({ servers: url });
  const floor = new BareInboxFloor(nc);
  return {
    calls: {
      mesh: () => echo.echo(ORDER),
      "floor-b": () => floor.request(RAW_ECHO_SUBJECT, ORDER_BYTES),
    },
    async close() {
      await mesh.close();
      await nc.drain();
    },
  };
}
