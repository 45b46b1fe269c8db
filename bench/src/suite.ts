/** What every suite gets from the runner. */
export interface BenchEnv {
  /** A loopback NATS the suite may use freely (a private server unless NATS_URL is set). */
  readonly natsUrl: string;
  /** Measured rounds per (client, setting); rounds of different clients are interleaved. */
  readonly rounds: number;
  readonly roundMs: number;
  /** Warmup per client before the first measured round, so the JIT has settled. */
  readonly warmupMs: number;
  /** Progress for people: goes to stderr, so `--json` keeps stdout clean. */
  log(message: string): void;
}

/** A table for the human-readable report; cells are already formatted. */
export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Lines printed under the table (what the numbers mean). */
  readonly notes?: readonly string[];
}

/**
 * What a suite measured. Keys are global across suites (the runner refuses duplicates), so a
 * suite names its keys for what it measures, with units in the names.
 */
export interface SuiteResult {
  readonly figures: Readonly<Record<string, number>>;
  readonly ratios: Readonly<Record<string, number>>;
  readonly tables: readonly Table[];
}

/** One benchmark, registered in `suites/index.ts`. */
export interface Suite {
  readonly name: string;
  readonly description: string;
  run(env: BenchEnv): Promise<SuiteResult>;
}
