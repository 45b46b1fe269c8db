import { MeshError } from "@switchyard/runtime";
import type { FastifyInstance } from "fastify";

const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];
// listening on every address says nothing about the name browsers use
const WILDCARD = new Set(["0.0.0.0", "::", "[::]"]);

/** `host` as a URL writes it (lowercase, IPv6 in brackets), or undefined when it is not a host. */
function hostnameOf(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return undefined;
  }
}

/** The names the dashboard answers to: loopback, the host it listens on, and `extra`. */
export function allowedHosts(listenHost: string | undefined, extra: readonly string[] = []): Set<string> {
  const names = [...LOOPBACK, ...extra];
  if (listenHost !== undefined && !WILDCARD.has(listenHost))
    names.push(listenHost.includes(":") && !listenHost.startsWith("[") ? `[${listenHost}]` : listenHost);
  return new Set(names.map(hostnameOf).filter((h): h is string => h !== undefined));
}

/**
 * Refuses (403) a request whose `Host` is not an allowed name. A page on another site can point
 * its own DNS name at 127.0.0.1 (DNS rebinding) and then read the dashboard as same-origin: its
 * requests still carry that site's name in `Host`, which is how they are told apart.
 */
export function checkHost(app: FastifyInstance, allowed: ReadonlySet<string>): void {
  app.addHook("onRequest", async (request) => {
    const host = request.headers.host;
    const name = host === undefined ? undefined : hostnameOf(host);
    if (name === undefined || !allowed.has(name)) {
      throw new MeshError(
        "PERMISSION_DENIED",
        `the dashboard does not answer to the host ${host ?? "(none)"}`,
      );
    }
  });
}
