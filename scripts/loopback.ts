// Loopback helpers shared by `npm start`, the bench and the test fixtures (dev tooling, not the
// runtime): pick a free port, probe one, find a server binary.
import { existsSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { join } from "node:path";

// Ports already handed out by this process: the OS may give a just-released port again, and a
// caller that asks for several before listening on any (a cluster's route ports) must get distinct ones.
const handedOut = new Set<number>();

/** A free TCP port on 127.0.0.1, never one this process was given before (released before returning). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await osPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` (gives up after `timeoutMs`). */
export function isListening(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(timeoutMs);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, "127.0.0.1");
  });
}

/** Resolves once something listens on `port`; rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000, what = "server"): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await isListening(port))) {
    if (Date.now() > until) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `name` on PATH (or in the sbin folders, where Debian puts nats-server), else undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of [...(process.env["PATH"] ?? "").split(":"), "/usr/sbin", "/usr/local/sbin", "/usr/bin"]) {
    if (dir !== "" && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}
