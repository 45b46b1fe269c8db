import { readFileSync } from "node:fs";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type Authenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { MeshError } from "./errors.js";
import type { ResolvedMeshOptions } from "./options.js";

/** Reads a seed file; a missing or unreadable one is UNAUTHENTICATED with the reason. */
export function readSeed(path: string): Uint8Array {
  try {
    return new TextEncoder().encode(readFileSync(path, "utf8").trim());
  } catch (cause) {
    throw new MeshError("UNAUTHENTICATED", `cannot read the nkey seed file ${path}`, { cause });
  }
}

function authenticator(auth: ResolvedMeshOptions["auth"]): Authenticator | undefined {
  if (auth === undefined) return undefined;
  if ("user" in auth) return usernamePasswordAuthenticator(auth.user, auth.pass);
  if ("token" in auth) return tokenAuthenticator(auth.token);
  if ("nkeyFile" in auth) {
    const path = auth.nkeyFile;
    readSeed(path); // a bad path is an error now, not on the first reconnect
    // nats.js calls this on every (re)connect: a replaced file is a rotated credential
    return nkeyAuthenticator(() => readSeed(path));
  }
  return nkeyAuthenticator(new TextEncoder().encode(auth.nkeySeed));
}

/**
 * Opens the NATS connection of a mesh. Reconnects forever once connected (a service should
 * outlive a broker restart); the first connect fails fast with UNAVAILABLE.
 */
export async function openConnection(options: ResolvedMeshOptions): Promise<NatsConnection> {
  const auth = authenticator(options.auth);
  try {
    return await connect({
      servers: [...options.servers],
      name: options.name,
      inboxPrefix: options.inboxPrefix,
      timeout: options.connectTimeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ignoreClusterUpdates: options.ignoreClusterUpdates,
      ...(auth === undefined ? {} : { authenticator: auth }),
    });
  } catch (cause) {
    const denied = cause instanceof Error && /authoriz|authentic/i.test(cause.message);
    throw new MeshError(
      denied ? "UNAUTHENTICATED" : "UNAVAILABLE",
      `cannot connect to NATS at ${options.servers.join(",")}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}
