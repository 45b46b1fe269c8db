import type { AppliedReport } from "@switchyard/schemas";
import type { InstanceStatus } from "./contract.js";

/** An instance that missed this many heartbeats is gone. */
const MISSED_HEARTBEATS = 3;
/** An instance that has not answered a report request within this long is gone (crashed). */
const PROBE_GRACE_MS = 1_000;
/** Report requests go out at most this often. */
const PROBE_EVERY_MS = 2_000;
/** Instances tracked at most: reports are cheap to send, so their number must not grow memory. */
const MAX_TRACKED = 10_000;
/** A heartbeat period longer than this counts as this long: a report cannot make itself immortal. */
const MAX_HEARTBEAT_MS = 10 * 60_000;

/** Warnings about dropped reports go out at most this often. */
const DROP_WARN_EVERY_MS = 10_000;

interface Known {
  report: AppliedReport;
  seenAt: number;
  /** The last rejection, kept until the instance applies a newer version. */
  rejection: { about: number | undefined; reason: string | undefined } | undefined;
}

/**
 * What each runtime last said on the applied subject. Live instances are those heard from within
 * three of their heartbeat periods, that have not said goodbye, and that answered the last report
 * request. Instances are known by service and id, so a report (whose sender the broker vouches
 * for, `reportRefusal`) can only ever touch its own service's entries. Pure: time comes in as an
 * argument.
 */
export class RolloutTracker {
  readonly #instances = new Map<string, Known>();
  #probedAt: number | undefined;

  /**
   * Whether to ask every runtime to report now: when some instance lags `version` and no request
   * went out recently. A crashed instance never answers, so it drops out a second later instead
   * of after three heartbeats.
   */
  shouldProbe(version: number, now: number): boolean {
    if (this.#probedAt !== undefined && now - this.#probedAt < PROBE_EVERY_MS) return false;
    const lagging = this.status(version, now).some((i) => i.state !== "current");
    if (lagging) this.#probedAt = now;
    return lagging;
  }

  /** Takes a report; false when it was dropped because the tracker is full of live instances. */
  record(report: AppliedReport, now: number): boolean {
    const key = `${report.service} ${report.instanceId}`;
    if (report.status === "stopped") {
      this.#instances.delete(key);
      return true;
    }
    const known = this.#instances.get(key);
    if (known === undefined && this.#instances.size >= MAX_TRACKED) {
      this.#expire(now);
      if (this.#instances.size >= MAX_TRACKED) return false;
    }
    let rejection = known?.rejection;
    if (report.status === "rejected") rejection = { about: report.about, reason: report.reason };
    else if (rejection !== undefined && report.version >= (rejection.about ?? Number.POSITIVE_INFINITY)) {
      rejection = undefined;
    }
    this.#instances.set(key, { report, seenAt: now, rejection });
    return true;
  }

  /** Forgets instances that missed their heartbeats or did not answer the last report request. */
  #expire(now: number): void {
    for (const [id, known] of this.#instances) {
      const unanswered =
        this.#probedAt !== undefined &&
        known.seenAt < this.#probedAt &&
        now - this.#probedAt >= PROBE_GRACE_MS;
      const heartbeatMs = Math.min(known.report.heartbeatMs, MAX_HEARTBEAT_MS);
      if (unanswered || now - known.seenAt > MISSED_HEARTBEATS * heartbeatMs) this.#instances.delete(id);
    }
  }

  /** Live instances and where each stands against `version`, sorted by service then id. */
  status(version: number, now: number): InstanceStatus[] {
    this.#expire(now);
    const out: InstanceStatus[] = [];
    for (const known of this.#instances.values()) {
      const { report, rejection } = known;
      const state =
        report.version >= version ? "current" : rejection?.about === version ? "rejected" : "lagging";
      out.push({
        instanceId: report.instanceId,
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

/**
 * Who sent a report, as the broker tells: the account in its `Nats-Request-Info` (reports reach
 * the controller through a service import); `own` when it carries none, so it was published inside
 * the controller's own account, by the controller's own runtime; `untrusted` when the info is
 * there but cannot be trusted; `unknown` on a broker that vouches for nobody.
 */
export type ReportSender =
  | { readonly kind: "account"; readonly account: string }
  | { readonly kind: "own" }
  | { readonly kind: "untrusted" }
  | { readonly kind: "unknown" };

/**
 * Why a report must not be taken, or undefined when it may: every sender reports only for its own
 * service. Without a vouching broker nothing is known, and every report is taken.
 */
export function reportRefusal(
  report: AppliedReport,
  sender: ReportSender,
  controller: string,
): string | undefined {
  switch (sender.kind) {
    case "unknown":
      return undefined;
    case "untrusted":
      return "its Nats-Request-Info cannot be trusted";
    case "own":
    case "account": {
      const from = sender.kind === "own" ? controller : sender.account;
      return report.service === from ? undefined : `${from} may not report for ${report.service}`;
    }
  }
}

/** Counts dropped reports and says when to warn about them: at most every 10 s, with the count. */
export class DroppedReports {
  #count = 0;
  #unreported = 0;
  #warnedAt: number | undefined;

  /** Reports dropped since the controller started. */
  get count(): number {
    return this.#count;
  }

  /** Counts one; returns how many were dropped since the last warning when one is due now. */
  drop(now: number): number | undefined {
    this.#count++;
    this.#unreported++;
    if (this.#warnedAt !== undefined && now - this.#warnedAt < DROP_WARN_EVERY_MS) return undefined;
    this.#warnedAt = now;
    const n = this.#unreported;
    this.#unreported = 0;
    return n;
  }
}
