// What the dashboard's JSON API answers, beyond the collector's snapshot: the server builds these
// and the dashboard (a separate build) imports the same types, so neither keeps a copy.
import type { PolicySnapshot } from "@switchyard/schemas";
import type { z } from "zod";
import type { PolicyMeta, RolloutStatus } from "../contract.js";
import type { EdgeRow, EndpointRow } from "../stats-model.js";
import type { VersionRow } from "../version-traffic.js";
import type { HistoryPoint, InstanceRow } from "./collector.js";

/** `GET /api/services/<name>`: one service's instances, endpoints with history, and edges. */
export interface ServicePage {
  name: string;
  instances: InstanceRow[];
  endpoints: Array<EndpointRow & { history: HistoryPoint[] }>;
  callers: EdgeRow[];
  callees: EdgeRow[];
  /** Its traffic per version, over the last collection interval. */
  versions: VersionRow[];
}

/**
 * `GET /api/policy`: the current version (none before the first apply), history and rollout. The
 * snapshot is typed as the controller's `get` answers it, so a reader cannot count on defaults.
 */
export interface PolicyView {
  current: z.input<typeof PolicySnapshot> | undefined;
  history: PolicyMeta[];
  rollout: RolloutStatus;
}
