// Exit codes a script can rely on, and the one error type commands throw to reach them.

export const EXIT = {
  /** Everything checked passed / the command did what was asked. */
  ok: 0,
  /** A check failed, or the request would be denied, or analysis found errors. */
  failed: 1,
  /** Bad flags, arguments or input files. */
  usage: 2,
  /** weftd or a proxy could not be reached. */
  unreachable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI prints as one line on stderr before exiting with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.usage, message);
export const unreachable = (message: string): CliError => new CliError(EXIT.unreachable, message);

/** The first line of whatever was thrown, without a stack. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n')[0] ?? '').trim() || 'unknown error';
}
