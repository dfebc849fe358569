/** A stream the command writes to; `isTTY` decides colours and progress lines. */
export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Where a command reads and writes: the process's streams, or a test's. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  /** Read for `-` values (`--payload -`). */
  readonly stdin: AsyncIterable<string | Uint8Array>;
  /** `AMQP_URL`, `AMQP_EXCHANGE_PREFIX`, `NO_COLOR`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Fires on Ctrl-C (or SIGTERM): long-running commands stop cleanly. */
  readonly signal?: AbortSignal;
}

/** Exit codes, as the README lists them. */
export const EXIT = {
  ok: 0,
  /** The broker refused, a check failed, a message could not be sent. */
  failure: 1,
  /** `wait` saw nothing within `--timeout`. */
  timeout: 2,
  /** The command line is wrong: unknown command or flag, missing value. */
  usage: 64,
  /** The message is not valid (a field is missing or mistyped). */
  invalidMessage: 65,
  /** `wait` (or `send`) stopped by Ctrl-C; `listen` exits 0, Ctrl-C being how it ends. */
  interrupted: 130,
} as const;

/** An error that ends the command with its exit code and a one-line message. */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** A mistake on the command line: exit 64, with a pointer to `--help`. */
export function usageError(message: string, command?: string): CliError {
  const help = command === undefined ? 'teal-amq --help' : `teal-amq ${command} --help`;
  return new CliError(`${message} (see ${help})`, EXIT.usage);
}
