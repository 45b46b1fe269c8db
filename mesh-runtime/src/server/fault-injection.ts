import type { Policy } from "@switchyard/schemas";
import { MeshError } from "../errors.js";
import { monotonicNow } from "../resilience/clock.js";

/** Resilience drills from the policy: abort as a failing handler would, or add latency. */
export async function injectFaults(
  faults: ReadonlyArray<Policy["faults"][number]>,
  deadlineAt: number,
): Promise<void> {
  for (const fault of faults) {
    if (fault.abort !== undefined && Math.random() < fault.abort.fraction) {
      throw new MeshError(fault.abort.code, "injected fault", { details: { injected: true } });
    }
    if (fault.delay !== undefined && Math.random() < fault.delay.fraction) {
      const ms = Math.min(fault.delay.ms, Math.max(0, deadlineAt - monotonicNow()));
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
  }
}
