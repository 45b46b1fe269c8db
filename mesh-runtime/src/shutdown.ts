import type { Mesh } from "./mesh.js";

/**
 * For a service's main module: on SIGTERM or SIGINT, drain the mesh (stop taking requests,
 * finish those in flight), then exit 0 (1 when draining failed). A second signal exits at once.
 */
export function drainOnSignals(mesh: Mesh, signals: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"]): void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) process.exit(1);
    draining = true;
    mesh.log.info({ signal }, "signal received: draining");
    mesh.close().then(
      () => process.exit(0),
      (error: unknown) => {
        mesh.log.error({ err: error }, "drain failed");
        process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
}
