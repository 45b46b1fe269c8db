import { connectMesh, type Mesh, type MeshOptions } from "@switchyard/runtime";
import { startResponder } from "./responder-process.js";
import type { BenchEnv } from "./suite.js";

/** Mesh options of one caller, its name included; servers and log level come from the bench. */
export type CallerOptions = Omit<Partial<MeshOptions>, "servers"> & { readonly name: string };

/**
 * The responder process and one caller mesh per mode (each with its own options), for `measure`
 * to drive side by side; everything is closed afterwards, whatever `measure` did.
 */
export async function withCallers<M extends string, T>(
  env: BenchEnv,
  modes: Readonly<Record<M, CallerOptions>>,
  measure: (callers: Readonly<Record<M, Mesh>>) => Promise<T>,
): Promise<T> {
  const responder = await startResponder(env.natsUrl);
  const callers: Partial<Record<M, Mesh>> = {};
  try {
    for (const mode of Object.keys(modes) as M[]) {
      callers[mode] = await connectMesh({ logLevel: "warn", ...modes[mode], servers: env.natsUrl });
    }
    return await measure(callers as Record<M, Mesh>);
  } finally {
    await Promise.all(Object.values<Mesh | undefined>(callers).map((mesh) => mesh?.close()));
    await responder.stop();
  }
}
