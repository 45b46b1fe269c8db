/** Exit codes scripts can rely on (docs/CLI.md). */
export const ExitCode = {
  /** Done. */
  Ok: 0,
  /** The mesh answered with an error (invalid policy, a failed call...). */
  Failed: 1,
  /** The command line is wrong. */
  Usage: 2,
  /** `--wait` ran out of time, or an instance rejected the policy. */
  NotConverged: 3,
  /** NATS or the controller could not be reached. */
  Unavailable: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure with the exit code it means. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}
