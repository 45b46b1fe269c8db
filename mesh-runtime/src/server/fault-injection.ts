import type { Policy } from "@switchyard/schemas";
import { MeshError } from "../errors.js";
import { monotonicNow } from "../resilience/clock.js";

/**
 * Resilience drills from the policy: abort as a failing handler would, or add latency. `injected`
 * hears of each fault applied (span events).
 */
export async function injectFaults(
  faults: ReadonlyArray<Policy["faults"][number]>,
  deadlineAt: number,
  injected: (kind: "abort" | "delay") => void,
): Promise<void> {
  for (const fault of faults) {
    if (fault.abort !== undefined && Math.random() < fault.abort.fraction) {
      injected("abort");
      throw new MeshError(fault.abort.code, "injected fault", { details: { injected: true } });
    }
    if (fault.delay !== undefined && Math.random() < fault.delay.fraction) {
      injected("delay");
      const ms = Math.min(fault.delay.ms, Math.max(0, deadlineAt - monotonicNow()));
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
  }
}
