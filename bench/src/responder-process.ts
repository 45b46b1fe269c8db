import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Responder → runner, over the IPC channel. */
export type ResponderEvent =
  | { readonly type: "ready" }
  | { readonly type: "failed"; readonly message: string };
/** Runner → responder. */
export type ResponderCommand = { readonly type: "stop" };

const ENTRY = fileURLToPath(new URL("./responder.ts", import.meta.url));
// `--import tsx` resolves from the working directory: the repo root, as for `npm run bench`
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const STOP_GRACE_MS = 10_000;

const live = new Set<ChildProcess>();
// a runner that crashes must not leave a responder behind
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** The responder process of a suite; `stop()` drains it and waits for it to exit. */
export interface ResponderProcess {
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Spawns `node --import tsx bench/src/responder.ts` against `natsUrl` and resolves once it serves.
 * Its stdout and stderr go to the runner's stderr; `nodeArgs` go to node (`--cpu-prof`, say).
 */
export async function startResponder(
  natsUrl: string,
  extraEnv: Readonly<Record<string, string>> = {},
  readyTimeoutMs = 20_000,
  nodeArgs: readonly string[] = [],
): Promise<ResponderProcess> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", ENTRY], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...extraEnv, NATS_URL: natsUrl },
    stdio: ["ignore", 2, 2, "ipc"],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      live.delete(child);
      resolve();
    });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.send({ type: "stop" } satisfies ResponderCommand);
    else child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("the responder did not start in time")),
        readyTimeoutMs,
      );
      child.on("message", (event: ResponderEvent) => {
        clearTimeout(timer);
        if (event.type === "ready") resolve();
        else reject(new Error(`the responder failed: ${event.message}`));
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the responder exited before serving (${signal ?? `code ${code}`})`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid, stop };
}
