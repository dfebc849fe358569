import type { Message } from '@teal/messages';
import { brokerError, openHandler } from '../broker';
import { BROKER_FLAGS, type Command, type FlagSpec, type ParsedArgs, stringFlag } from '../command';
import { formatMessage, type MessageFormat } from '../format';
import { type CliIo, EXIT, usageError } from '../io';
import { KEY_OF_KIND, parseKind, SHORT_KIND_NAMES } from '../kinds';
import { brokerSettings } from '../settings';
import { styleFor } from '../style';
import { parseInteger } from '../values';

/** How `listen` and `wait` show messages. */
export const MESSAGE_FLAGS: Readonly<Record<string, FlagSpec>> = {
  pretty: {
    type: 'boolean',
    description: 'print readably, one field a line, instead of one JSON line',
  },
  'show-secrets': {
    type: 'boolean',
    description:
      'print tokens, payloads, signatures and callback URL query values as they are (masked by default)',
  },
};

/** The format `--pretty` and `--show-secrets` ask for. */
export function messageFormatOf(parsed: ParsedArgs): MessageFormat {
  return {
    isPretty: parsed.values.pretty === true,
    showSecrets: parsed.values['show-secrets'] === true,
  };
}

export const listenCommand: Command = {
  name: 'listen',
  summary: 'print the messages sent to some keys until Ctrl-C',
  usage: ['teal-amq listen <kind> <key>… [--pretty] [--show-secrets] [--count N]'],
  details: [
    'Binds each key and prints every message sent to it from then on, one JSON line each (the wire format, as a Python consumer reads it). Tokens, payloads, signatures and the query values of callback URLs are masked unless --show-secrets. "listening" goes to stderr once every key is bound. Ctrl-C (or SIGTERM) unbinds the keys, closes the connection and exits 0.',
    `Kinds: ${SHORT_KIND_NAMES.join(', ')}; the key is the OAuth2 state, the CIBA request id or the Powens domain.`,
  ],
  positionals: [...SHORT_KIND_NAMES],
  flags: {
    ...MESSAGE_FLAGS,
    count: { type: 'string', value: 'N', description: 'exit 0 after N messages' },
    ...BROKER_FLAGS,
  },
  examples: [
    'teal-amq listen callback b1f3c9',
    'teal-amq listen powens example.biapi.pro other.biapi.pro --pretty',
    'teal-amq listen ciba 1c266114 --count 1 --show-secrets | jq .access_token',
  ],
  run: runListen,
};

async function runListen(parsed: ParsedArgs, io: CliIo): Promise<number> {
  const [kindName, ...keys] = parsed.positionals;
  const kind = parseKind(kindName, 'listen');
  if (keys.length === 0)
    throw usageError(`give at least one ${KEY_OF_KIND[kind]} to listen to`, 'listen');
  const countFlag = stringFlag(parsed, 'count');
  const count =
    countFlag === undefined
      ? Number.POSITIVE_INFINITY
      : parseInteger('count', countFlag, [1, 1e9], 'listen');
  const format = messageFormatOf(parsed);
  const style = styleFor(io.stdout, io.env);
  const settings = brokerSettings(parsed.values, io.env);
  const handler = await openHandler(settings, io);
  let printed = 0;
  let finish = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  handler.callback = (message: Message) => {
    if (printed >= count) return;
    io.stdout.write(`${formatMessage(message, format, style)}\n`);
    printed++;
    if (printed >= count) finish();
  };
  io.signal?.addEventListener('abort', () => finish(), { once: true });
  try {
    for (const key of keys) {
      await handler.bind(kind, key).catch((error: unknown) => {
        throw brokerError(`cannot bind ${KEY_OF_KIND[kind]} ${key}`, error, settings.url);
      });
    }
    if (io.signal?.aborted !== true) {
      io.stderr.write(`listening for ${kind} messages on ${keys.join(', ')} (Ctrl-C to stop)\n`);
      await finished;
    }
    handler.callback = null;
    for (const key of keys) await handler.unbind(kind, key);
    return EXIT.ok;
  } finally {
    await handler.close();
  }
}
