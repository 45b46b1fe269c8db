import type { AppliedReport } from "@switchyard/schemas";
import type { InstanceStatus } from "./contract.js";

/** An instance that missed this many heartbeats is gone. */
const MISSED_HEARTBEATS = 3;

interface Known {
  report: AppliedReport;
  seenAt: number;
  /** The last rejection, kept until the instance applies a newer version. */
  rejection: { about: number | undefined; reason: string | undefined } | undefined;
}

/**
 * What each runtime last said on the applied subject. Live instances are those heard from within
 * three of their heartbeat periods that have not said goodbye. Pure: time comes in as an argument.
 */
export class RolloutTracker {
  readonly #instances = new Map<string, Known>();

  record(report: AppliedReport, now: number): void {
    if (report.status === "stopped") {
      this.#instances.delete(report.instanceId);
      return;
    }
    const known = this.#instances.get(report.instanceId);
    let rejection = known?.rejection;
    if (report.status === "rejected") rejection = { about: report.about, reason: report.reason };
    else if (rejection !== undefined && report.version >= (rejection.about ?? Number.POSITIVE_INFINITY)) {
      rejection = undefined;
    }
    this.#instances.set(report.instanceId, { report, seenAt: now, rejection });
  }

  /** Live instances and where each stands against `version`, sorted by service then id. */
  status(version: number, now: number): InstanceStatus[] {
    const out: InstanceStatus[] = [];
    for (const [id, known] of this.#instances) {
      if (now - known.seenAt > MISSED_HEARTBEATS * known.report.heartbeatMs) {
        this.#instances.delete(id);
        continue;
      }
      const { report, rejection } = known;
      const state =
        report.version >= version ? "current" : rejection?.about === version ? "rejected" : "lagging";
      out.push({
        instanceId: id,
        service: report.service,
        version: report.version,
        state,
        lastReport: report.status,
        ...(state === "rejected" && rejection?.reason !== undefined ? { reason: rejection.reason } : {}),
        ...(rejection?.about === undefined ? {} : { about: rejection.about }),
        at: report.at,
      });
    }
    return out.sort((a, b) => a.service.localeCompare(b.service) || a.instanceId.localeCompare(b.instanceId));
  }
}
