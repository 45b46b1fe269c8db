import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The NATS a bench run uses. */
export interface BenchNats {
  readonly url: string;
  /** How the runner got it, for the report. */
  readonly origin: "private" | "NATS_URL";
  /** The server's process id when this run started it (its CPU can then be read from /proc). */
  readonly pid?: number;
  stop(): Promise<void>;
}

const LISTENING = /Listening for client connections on (127\.0\.0\.1:\d+)/;
const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** `nats-server` on PATH, else where Debian puts it. */
function natsServerBinary(): string {
  for (const dir of (process.env["PATH"] ?? "").split(":")) {
    if (dir !== "" && existsSync(join(dir, "nats-server"))) return join(dir, "nats-server");
  }
  return "/usr/sbin/nats-server";
}

/** Throws unless every URL in the comma-separated list points at this machine. */
function assertLoopback(urls: string): void {
  for (const url of urls.split(",")) {
    const host = new URL(url.trim().includes("://") ? url.trim() : `nats://${url.trim()}`).hostname;
    if (!LOOPBACK_HOSTS.has(host) && !host.startsWith("127.")) {
      throw new Error(`the bench runs against loopback servers only; NATS_URL has ${host}`);
    }
  }
}

/**
 * A private nats-server on a port the OS picks (`-p -1`, read back from its log, so no port race),
 * bound to 127.0.0.1 and stopped by `stop()`; `extraArgs` go to nats-server (a config file, say).
 */
export async function startPrivate(extraArgs: readonly string[] = []): Promise<BenchNats> {
  // JetStream on: the policy-propagation suite keeps the policy in KV
  const store = mkdtempSync(join(tmpdir(), "switchyard-bench-js-"));
  // a configuration file holds its own JetStream store (nats-server refuses -sd beside store_dir)
  const jetstream = extraArgs.includes("-c") ? [] : ["-js", "-sd", store];
  const args = ["-a", "127.0.0.1", "-p", "-1", ...jetstream, ...extraArgs];
  const child = spawn(natsServerBinary(), args, {
    stdio: ["ignore", "ignore", "pipe"],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      live.delete(child);
      rmSync(store, { recursive: true, force: true });
      resolve();
    });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  let output = "";
  try {
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("nats-server did not start in time")),
        START_TIMEOUT_MS,
      );
      child.stderr?.on("data", (chunk: Buffer) => {
        // keep reading after start: a full pipe would stall the server
        output = (output + chunk.toString()).slice(-10_000);
        const match = LISTENING.exec(output);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with code ${code}`));
      });
    });
    return {
      url: `nats://${address}`,
      origin: "private",
      stop,
      ...(child.pid === undefined ? {} : { pid: child.pid }),
    };
  } catch (error) {
    await stop();
    throw new Error(`cannot start nats-server: ${(error as Error).message}\n${output}`);
  }
}

/** NATS_URL when set (loopback only), else a private nats-server for this run. */
export async function benchNats(): Promise<BenchNats> {
  const fromEnv = process.env["NATS_URL"];
  if (fromEnv === undefined || fromEnv === "") return startPrivate();
  assertLoopback(fromEnv);
  return { url: fromEnv, origin: "NATS_URL", stop: async () => {} };
}
