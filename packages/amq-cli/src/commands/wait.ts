import { AMQTimeoutError } from '@teal/amq-core';
import { brokerError, openHandler } from '../broker';
import { BROKER_FLAGS, type Command, type ParsedArgs, stringFlag } from '../command';
import { formatMessage } from '../format';
import { type CliIo, EXIT, usageError } from '../io';
import { KEY_OF_KIND, parseKind, SHORT_KIND_NAMES } from '../kinds';
import { brokerSettings } from '../settings';
import { styleFor } from '../style';
import { formatMs, parseDuration } from '../values';
import { MESSAGE_FLAGS, messageFormatOf } from './listen';

export const waitCommand: Command = {
  name: 'wait',
  summary: 'print the first message sent to a key; exit 2 if none comes in time',
  usage: ['teal-amq wait <kind> <key> [--timeout 30s] [--pretty] [--show-secrets]'],
  details: [
    'Binds the key, prints the first message sent to it from then on (one JSON line, masked as in listen) and exits 0. Exits 2 when nothing came within --timeout, so that shell scripts and CI jobs can wait for a callback. "waiting" goes to stderr once the key is bound: a message sent after that line is seen.',
  ],
  positionals: [...SHORT_KIND_NAMES],
  flags: {
    timeout: {
      type: 'string',
      value: 'DURATION',
      description: 'how long to wait: 30s, 500ms, 2m, 1h. Default: 30s',
    },
    ...MESSAGE_FLAGS,
    ...BROKER_FLAGS,
  },
  examples: [
    'teal-amq wait callback b1f3c9 --timeout 2m',
    'if teal-amq wait powens example.biapi.pro --timeout 10s > webhook.json; then echo arrived; else echo "none ($?)"; fi',
  ],
  run: runWait,
};

async function runWait(parsed: ParsedArgs, io: CliIo): Promise<number> {
  const [kindName, key, extra] = parsed.positionals;
  const kind = parseKind(kindName, 'wait');
  if (key === undefined) throw usageError(`give the ${KEY_OF_KIND[kind]} to wait for`, 'wait');
  if (extra !== undefined) throw usageError('wait takes one key (listen takes several)', 'wait');
  const timeoutMs = parseDuration('timeout', stringFlag(parsed, 'timeout') ?? '30s', 'wait');
  const settings = brokerSettings(parsed.values, io.env);
  const handler = await openHandler(settings, io);
  try {
    const message = await handler.waitFor(kind, key, {
      timeoutMs,
      ...(io.signal === undefined ? {} : { signal: io.signal }),
      onBound: () =>
        io.stderr.write(
          `waiting for one ${kind} message on ${key} (at most ${formatMs(timeoutMs)})\n`,
        ),
    });
    io.stdout.write(
      `${formatMessage(message, messageFormatOf(parsed), styleFor(io.stdout, io.env))}\n`,
    );
    return EXIT.ok;
  } catch (error) {
    if (error instanceof AMQTimeoutError) {
      io.stderr.write(`no ${kind} message on ${key} within ${formatMs(timeoutMs)}\n`);
      return EXIT.timeout;
    }
    if (io.signal?.aborted === true) return EXIT.interrupted;
    throw brokerError(`cannot wait for ${KEY_OF_KIND[kind]} ${key}`, error, settings.url);
  } finally {
    await handler.close();
  }
}
