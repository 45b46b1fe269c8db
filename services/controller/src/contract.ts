import { defineContract } from "@switchyard/runtime";
import { AppliedReport, type Policy, PolicySnapshot } from "@switchyard/schemas";
import { z } from "zod";

const Version = z.number().int().min(1);
const Meta = z.object({
  version: Version,
  hash: z.string(),
  createdAt: z.string(),
  author: z.string().optional(),
  note: z.string().optional(),
  rollbackOf: z.number().int().optional(),
});

const Change = z.object({
  path: z.string(),
  op: z.enum(["added", "removed", "changed"]),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
});

const InstanceStatus = z.object({
  instanceId: z.string(),
  service: z.string(),
  version: z.number().int(),
  state: z.enum(["current", "lagging", "rejected"]),
  lastReport: AppliedReport.shape.status,
  reason: z.string().optional(),
  about: z.number().int().optional(),
  at: z.string(),
});

const RolloutStatus = z.object({ version: z.number().int(), instances: z.array(InstanceStatus) });

/** The controller's endpoints: the control plane is itself a mesh service. */
export const controllerContract = defineContract({
  name: "controller",
  version: "1.0.0",
  description: "Mesh policy: apply, read, diff, roll back, and watch it roll out",
  endpoints: {
    apply: {
      description: "Validate a policy document and publish it as the next version",
      input: z.strictObject({
        // validated by the controller itself, so every issue comes back with its path
        document: z.unknown(),
        /** Refuse with CONFLICT unless the current version is this one. */
        expectedVersion: z.number().int().min(0).optional(),
        author: z.string().max(200).optional(),
        note: z.string().max(2_000).optional(),
      }),
      output: Meta,
      timeoutMs: 10_000,
    },
    get: {
      description: "The current policy, or a given version",
      input: z.strictObject({ version: Version.optional() }),
      output: PolicySnapshot,
      idempotent: true,
    },
    history: {
      description: "Versions, newest first",
      input: z.strictObject({ limit: z.number().int().min(1).max(1_000).optional() }),
      output: z.object({ versions: z.array(Meta) }),
      idempotent: true,
    },
    diff: {
      description: "What changed between two versions",
      input: z.strictObject({ from: Version, to: Version }),
      output: z.object({ from: Version, to: Version, changes: z.array(Change), text: z.string() }),
      idempotent: true,
    },
    rollback: {
      description: "Publish an older version's document as a new version",
      input: z.strictObject({
        toVersion: Version,
        expectedVersion: z.number().int().min(0).optional(),
        author: z.string().max(200).optional(),
      }),
      output: Meta,
      timeoutMs: 10_000,
    },
    status: {
      description: "Every live instance: the version it runs, or why it rejected one",
      input: z.strictObject({}),
      output: RolloutStatus,
      idempotent: true,
    },
  },
});

export type InstanceStatus = z.infer<typeof InstanceStatus>;
export type RolloutStatus = z.infer<typeof RolloutStatus>;
export type PolicyMeta = z.infer<typeof Meta>;
export type PolicyChange = z.infer<typeof Change>;
// the document travels as JSON; this is the shape apply accepts
export type PolicyDocument = z.input<typeof Policy>;
