import { parseArgs } from 'node:util';
import type { CliIo } from './io';
import { usageError } from './io';

/** One flag of a command: how `parseArgs` reads it, how `--help` and completions show it. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** The value's placeholder in `--help`: `S`, `@file|-`. */
  readonly value?: string;
  readonly description: string;
  /** What a shell offers for the value: file names, or these words. */
  readonly complete?: 'file' | readonly string[];
}

/** A command: its help, its flags, and what it does. */
export interface Command {
  readonly name: string;
  /** One line, for the command list. */
  readonly summary: string;
  readonly usage: readonly string[];
  /** Paragraphs after the usage lines. */
  readonly details?: readonly string[];
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** The words a shell offers for the first positional argument. */
  readonly positionals?: readonly string[];
  readonly examples: readonly string[];
  /** Runs the command; resolves to the exit code. */
  run(parsed: ParsedArgs, io: CliIo): Promise<number>;
}

export interface ParsedArgs {
  readonly values: Readonly<Record<string, unknown>>;
  readonly positionals: readonly string[];
}

/** `--help` on every command. */
export const HELP_FLAG: Readonly<Record<string, FlagSpec>> = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

/** The broker flags of every command that connects, named after the variables they override. */
export const BROKER_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'amqp-url': {
    type: 'string',
    value: 'URL',
    description:
      'the broker URL; its scheme picks the adapter (memory, amqp, redis, nats, postgres). Default: $AMQP_URL',
  },
  'exchange-prefix': {
    type: 'string',
    value: 'P',
    description: 'prepended to every exchange name. Default: $AMQP_EXCHANGE_PREFIX, else empty',
  },
};

/** Reads a command's arguments with `node:util`'s `parseArgs`; mistakes are usage errors. */
export function parseCommandArgs(command: Command, argv: readonly string[]): ParsedArgs {
  const options: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
  > = {};
  for (const [name, flag] of Object.entries({ ...command.flags, ...HELP_FLAG })) {
    options[name] = {
      type: flag.type,
      ...(flag.short === undefined ? {} : { short: flag.short }),
      ...(flag.multiple === undefined ? {} : { multiple: flag.multiple }),
    };
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals };
  } catch (error) {
    // parseArgs explains the mistake (unknown option, missing value); its text has no secret.
    const reason = error instanceof Error ? error.message.split('. ')[0] : String(error);
    throw usageError(reason ?? 'invalid arguments', command.name);
  }
}

/** A string flag's value, if given. */
export function stringFlag(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A string flag that must be given. */
export function requiredFlag(parsed: ParsedArgs, name: string, command: string): string {
  const value = stringFlag(parsed, name);
  if (value === undefined) throw usageError(`--${name} is required`, command);
  return value;
}
