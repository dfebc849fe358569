import { type AMQHandler, type AMQSettings, connect, type Logger } from '@teal/amq-core';
import { brokerInfo } from './doctor/broker-info';
import { ClientUnavailableError } from './doctor/client';
import { diagnose } from './doctor/diagnose';
import { CliError, type CliIo, EXIT } from './io';
import { styleFor } from './style';

/** The handler's warnings and errors as lines on stderr; core keeps secrets out of them. */
export function cliLogger(io: CliIo): Logger {
  const style = styleFor(io.stderr, io.env);
  const line = (level: string, message: string, fields?: Readonly<Record<string, unknown>>) => {
    const extra =
      fields === undefined || Object.keys(fields).length === 0
        ? ''
        : ` ${JSON.stringify(fields, errorFields)}`;
    io.stderr.write(`${level} ${message}${style.dim(extra)}\n`);
  };
  return {
    debug() {},
    info() {},
    warn: (message, fields) => line(style.warn('warning:'), message, fields),
    error: (message, fields) => line(style.fail('error:'), message, fields),
  };
}

function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}

/** A handler on the settings' broker, or an error that says what is wrong and what to do. */
export async function openHandler(
  settings: AMQSettings,
  io: CliIo,
  options: { readonly sendTimeoutMs?: number } = {},
): Promise<AMQHandler> {
  try {
    return await connect({ ...settings, ...options, logger: cliLogger(io) });
  } catch (error) {
    // The broker's own client says more (codes, replies) than an adapter's wrapped error.
    const precise = await brokerInfo(settings.url, PROBE_TIMEOUT_MS).then(
      () => error,
      (probeError: unknown) => (probeError instanceof ClientUnavailableError ? error : probeError),
    );
    throw brokerError('cannot connect', precise, settings.url);
  }
}

/** How long the look with the broker's own client may take after a failed connect. */
const PROBE_TIMEOUT_MS = 5_000;

/** A broker failure as the CLI reports it: the problem, then the remedy, never a secret. */
export function brokerError(what: string, error: unknown, url: string): CliError {
  const { problem, remedy } = diagnose(error, url);
  return new CliError(`${what}: ${problem}\n  remedy: ${remedy}`, EXIT.failure, { cause: error });
}
