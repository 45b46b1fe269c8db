import { type ChildProcess, spawn } from "node:child_process";
import { freePort, onPath, waitForPort } from "../../scripts/loopback.js";

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function redisServerBinary(): string {
  const binary = onPath("redis-server");
  if (binary === undefined) throw new Error("redis-server not found (Debian: apt-get install redis-server)");
  return binary;
}

/** A private, in-memory redis-server on a free loopback port for one bench run. */
export async function benchRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    redisServerBinary(),
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore",
    },
  );
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      live.delete(child);
      resolve();
    }),
  );
  await waitForPort(port, 5_000, "redis-server");
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
