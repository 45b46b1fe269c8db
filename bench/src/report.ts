import type { Table } from "./suite.js";

const whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** 41,230 */
export const formatCount = (n: number): string => whole.format(n);

/** 12.3 (µs and the like) */
export const formatFixed = (n: number, digits = 1): string => n.toFixed(digits);

/** ±3% */
export const formatSpread = (share: number): string => `±${Math.round(share * 100)}%`;

/** Rounds a figure for the JSON report; enough digits to compare runs, no float noise. */
export const roundTo = (n: number, digits: number): number => {
  const scale = 10 ** digits;
  return Math.round(n * scale) / scale;
};

/** A table in fixed-width columns: the first left-aligned, numbers right-aligned. */
export function renderTable(table: Table): string {
  const all = [table.columns, ...table.rows];
  const widths = table.columns.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  const rule = "-".repeat(widths.reduce((sum, w) => sum + w, 0) + 3 * (widths.length - 1));
  return [
    table.title,
    line(table.columns),
    rule,
    ...table.rows.map(line),
    ...(table.notes ?? []).map((n) => `  ${n}`),
  ].join("\n");
}

/** `name  value` lines, names padded to one column. */
export function renderValues(title: string, values: Readonly<Record<string, number>>): string {
  const names = Object.keys(values);
  const width = Math.max(0, ...names.map((n) => n.length));
  return [title, ...names.map((n) => `  ${n.padEnd(width)}   ${values[n]}`)].join("\n");
}
