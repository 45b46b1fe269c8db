import { percentile } from "./measure.js";

/** p50, p99 and max of samples in ms, rounded to 0.01 ms, under `name.p50-ms` and the like. */
export function latencyFigures(name: string, samplesMs: readonly number[]): Record<string, number> {
  const sorted = Float64Array.from(samplesMs).sort();
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    [`${name}.p50-ms`]: round(percentile(sorted, 50)),
    [`${name}.p99-ms`]: round(percentile(sorted, 99)),
    [`${name}.max-ms`]: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/** A table row of `latencyFigures`: the label, then p50, p99 and max in ms. */
export function latencyRow(label: string, figures: Readonly<Record<string, number>>): string[] {
  return [label, ...Object.values(figures).map((ms) => ms.toFixed(2))];
}

/** The columns of a table of `latencyRow`s. */
export const LATENCY_COLUMNS = ["", "p50 ms", "p99 ms", "max ms"] as const;
