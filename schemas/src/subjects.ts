import { z } from "zod";
import { IDEMPOTENCY_KEY_PATTERN } from "./headers.js";

/** Service and endpoint names: the NATS micro (ADR-32) name rule. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;
/** Longest service or endpoint name: subjects, queue groups and metric labels stay small. */
export const MAX_NAME_LENGTH = 128;
export const NAME_RULE = "must match ^[A-Za-z0-9_-]+$";
/** A subject prefix: one or more name tokens joined by dots. */
export const PREFIX_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export const ServiceName = z.string().max(MAX_NAME_LENGTH).regex(NAME_PATTERN, NAME_RULE);

/**
 * What `ServiceName` accepts, as a plain test for hot paths (`Mesh-Caller` on every request, call
 * targets): a loop over the characters, which costs a fraction of entering the regular expression
 * engine when a request is read cold.
 */
export function isServiceName(name: string): boolean {
  const length = name.length;
  if (length === 0 || length > MAX_NAME_LENGTH) return false;
  for (let i = 0; i < length; i++) {
    const c = name.charCodeAt(i);
    // digits, then letters of either case (the case bit set), then "_" and "-"
    const lower = c | 0x20;
    if ((c >= 0x30 && c <= 0x39) || (lower >= 0x61 && lower <= 0x7a) || c === 0x5f || c === 0x2d) continue;
    return false;
  }
  return true;
}
export const EndpointName = ServiceName;
export const SubjectPrefix = z
  .string()
  .regex(PREFIX_PATTERN, "must be dot-separated tokens of [A-Za-z0-9_-]");

export const DEFAULT_PREFIX = "mesh";

/** `<prefix>.svc.<service>.<endpoint>`: where one endpoint's requests are published. */
export function endpointSubject(prefix: string, service: string, endpoint: string): string {
  return `${prefix}.svc.${service}.${endpoint}`;
}

/** Every subject under one service: what its instances subscribe to, in queue group `<service>`. */
export function serviceSubjects(prefix: string, service: string): string {
  return `${prefix}.svc.${service}.>`;
}

/**
 * Where an account without JetStream reads the policy bucket on a broker with accounts: the
 * controller's read-only JetStream API exports, imported under this prefix (`switchyard authz render`).
 */
export function policyApiPrefix(bucket: string): string {
  return `$JS.${bucket}.API`;
}

/**
 * `<prefix>.ver.<service>.<major>.<endpoint>`: one endpoint of the instances whose contract version
 * has this major (`2` for `2.3.1`), subscribed in queue group `<service>@<major>` (docs/PROTOCOL.md).
 * A separate token after the prefix keeps these out of the plain `<prefix>.svc.<service>.>` group.
 */
export function versionSubject(prefix: string, service: string, major: number, endpoint: string): string {
  return `${prefix}.ver.${service}.${major}.${endpoint}`;
}

/** Every version subject of one service (`<prefix>.ver.<service>.>`), as accounts export them. */
export function versionSubjects(prefix: string, service: string): string {
  return `${prefix}.ver.${service}.>`;
}

/** Every instance subject of one service (`<prefix>.inst.<service>.>`), as accounts export them. */
export function instanceSubjects(prefix: string, service: string): string {
  return `${prefix}.inst.${service}.>`;
}

/** The queue group of one major version's instances. */
export function versionQueueGroup(service: string, major: number): string {
  return `${service}@${major}`;
}

/** `<prefix>.inst.<service>.<instanceId>.<endpoint>`: one endpoint of one instance (no queue group). */
export function instanceSubject(
  prefix: string,
  service: string,
  instanceId: string,
  endpoint: string,
): string {
  return `${prefix}.inst.${service}.${instanceId}.${endpoint}`;
}

/** The major of a semantic version (`2` for `2.3.1`). */
export function majorOf(version: string): number {
  return Number.parseInt(version, 10);
}

/** The queue group every instance of a service joins. */
export function queueGroup(service: string): string {
  return service;
}

/** A tenant id as it travels in `Mesh-Tenant`: safe in Redis keys, metric labels and logs. */
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;
export const TenantId = z
  .string()
  .regex(TENANT_PATTERN, "must be 1-128 characters of [A-Za-z0-9_.:@-], starting alphanumeric");

/** Where a caller that gave up says so; every instance of the service hears it (docs/PROTOCOL.md). */
export function cancelSubject(prefix: string, service: string): string {
  return `${prefix}.cancel.${service}`;
}

/**
 * The body of a cancel message, naming the abandoned attempt: by its reply subject on an open
 * broker; by Idempotency-Key and attempt where the broker vouches identity (the callee then sees
 * only a rewritten reply). Senders write all three.
 */
export const CancelMessage = z.object({
  reply: z.string().min(1).max(512).optional(),
  idempotencyKey: z.string().regex(IDEMPOTENCY_KEY_PATTERN).optional(),
  attempt: z.number().int().min(1).max(4_294_967_295).optional(),
});
export type CancelMessage = z.infer<typeof CancelMessage>;
