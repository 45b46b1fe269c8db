import { ServiceBroker } from "moleculer";
import type { Call } from "./measure.js";

// The peer the request-reply suite compares the mesh with: Moleculer with its defaults (NATS
// transporter on the bench's nats-server, JSON serializer, its own balancer, no request timeout,
// no metrics or tracing) and only its logger off, as issue 16 specifies the peer.

const PEER_SERVICE = "bench-peer";
const PEER_ECHO_ACTION = `${PEER_SERVICE}.echo`;
// discovery (INFO packets over NATS) finishes well within this even on a loaded machine
const DISCOVERY_TIMEOUT_MS = 20_000;

function broker(natsUrl: string, role: string): ServiceBroker {
  return new ServiceBroker({
    nodeID: `${role}-${process.pid}`,
    // what the string "nats://host:port" resolves to, spelled as the types know it
    transporter: { type: "NATS", options: { url: natsUrl } },
    logger: false,
  });
}

/** The responder side: an `echo` action with no params schema that returns its params. */
export async function startPeerResponder(natsUrl: string): Promise<ServiceBroker> {
  const responder = broker(natsUrl, "bench-peer-responder");
  responder.createService({
    name: PEER_SERVICE,
    actions: { echo: (ctx) => ctx.params },
  });
  await responder.start();
  return responder;
}

/** The caller side, started once the responder's service is discovered. */
export interface PeerCaller {
  readonly call: Call;
  close(): Promise<void>;
}

/** A caller broker that sends `params` to the echo action on every call. */
export async function startPeerCaller(natsUrl: string, params: object): Promise<PeerCaller> {
  const caller = broker(natsUrl, "bench-peer-caller");
  await caller.start();
  try {
    await caller.waitForServices(PEER_SERVICE, DISCOVERY_TIMEOUT_MS);
  } catch (error) {
    await caller.stop();
    throw error;
  }
  return {
    call: () => caller.call(PEER_ECHO_ACTION, params),
    close: () => caller.stop(),
  };
}
