import type { Mesh } from "./mesh.js";

export interface DrainOnSignalsOptions {
  readonly signals?: readonly NodeJS.Signals[];
  /** Runs first: stop taking work from outside the mesh (an HTTP listener). */
  readonly before?: () => Promise<unknown>;
  /** Runs after the mesh has drained, before exit: flush telemetry (`telemetry.shutdown`). */
  readonly after?: () => Promise<unknown>;
}

/**
 * For a service's main module: on SIGTERM or SIGINT, run `before`, drain the mesh (stop taking
 * requests, finish those in flight), run `after`, then exit 0 (1 when any failed). A second
 * signal exits at once.
 */
export function drainOnSignals(mesh: Mesh, options: DrainOnSignalsOptions = {}): void {
  const { signals = ["SIGTERM", "SIGINT"], before, after } = options;
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) process.exit(1);
    draining = true;
    mesh.log.info({ signal }, "signal received: draining");
    Promise.resolve()
      .then(before)
      .then(() => mesh.close())
      .then(after)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          mesh.log.error({ err: error }, "drain failed");
          process.exit(1);
        },
      );
  };
  for (const signal of signals) process.on(signal, onSignal);
}
