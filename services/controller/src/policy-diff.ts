import type { PolicyChange } from "./contract.js";

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function key(path: string, k: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(k) ? (path ? `${path}.${k}` : k) : `${path}[${JSON.stringify(k)}]`;
}

/**
 * The changes from `before` to `after`, by path: objects are compared key by key, arrays and
 * scalars as whole values (a rule list that changed shows as one change with both lists).
 */
export function diffDocuments(before: unknown, after: unknown, path = ""): PolicyChange[] {
  if (isObject(before) && isObject(after)) {
    const changes: PolicyChange[] = [];
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const k of keys) {
      const p = key(path, k);
      if (!(k in after)) changes.push({ path: p, op: "removed", before: before[k] });
      else if (!(k in before)) changes.push({ path: p, op: "added", after: after[k] });
      else changes.push(...diffDocuments(before[k], after[k], p));
    }
    return changes;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path: path || "(document)", op: "changed", before, after }];
}

/** The changes as lines a person reads: `~ path: before → after`, `+ path: value`, `- path`. */
export function renderDiff(changes: readonly PolicyChange[]): string {
  if (changes.length === 0) return "no changes";
  const show = (v: unknown) => JSON.stringify(v);
  return changes
    .map((c) =>
      c.op === "added"
        ? `+ ${c.path}: ${show(c.after)}`
        : c.op === "removed"
          ? `- ${c.path}: ${show(c.before)}`
          : `~ ${c.path}: ${show(c.before)} → ${show(c.after)}`,
    )
    .join("\n");
}
