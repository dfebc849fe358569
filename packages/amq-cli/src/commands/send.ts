import { performance } from 'node:perf_hooks';
import {
  decodeMessage,
  type Message,
  MessageDecodeError,
  type MessageKind,
  PowensSignatureError,
  powensHMACSignatureFromRequest,
  routingKeyOf,
} from '@teal/messages';
import { brokerError, openHandler } from '../broker';
import { BROKER_FLAGS, type Command, type ParsedArgs, requiredFlag, stringFlag } from '../command';
import { CliError, type CliIo, EXIT, usageError } from '../io';
import { KEY_OF_KIND, parseKind } from '../kinds';
import { brokerSettings } from '../settings';
import { formatMs, parseDuration, readValue } from '../values';

/** Which `send` form each message flag belongs to. */
const FORM_OF_FLAG: Readonly<Record<string, string>> = {
  state: 'callback',
  url: 'callback',
  'request-id': 'ciba',
  'access-token': 'ciba',
  'push-token-json': 'ciba',
  'push-error': 'ciba',
  'push-error-description': 'ciba',
  domain: 'powens',
  event: 'powens',
  payload: 'powens',
  'user-token': 'powens',
  signature: 'powens',
  'signature-date': 'powens',
  'request-path': 'powens',
  kind: '--raw',
};

export const sendCommand: Command = {
  name: 'send',
  summary: 'send one message, validated; exit 0 once the broker has it',
  usage: [
    'teal-amq send callback --state S --url U',
    'teal-amq send ciba --request-id R [--access-token T] [--push-token-json @file | --push-error E]',
    'teal-amq send powens --domain D --event E [--payload @file|-] [--user-token T | --signature S --signature-date D]',
    'teal-amq send --raw @message.json --kind K',
  ],
  details: [
    'The message is validated with @teal/messages before anything connects; an invalid one exits 65 naming the field. The command exits 0 once the broker accepted the message (publisher confirm, command reply), 1 when it did not.',
    'Values of --access-token, --push-token-json, --payload, --user-token and --raw may be @path (read the file) or - (read standard input): tokens given that way stay out of the process list and the shell history.',
  ],
  positionals: ['callback', 'ciba', 'powens'],
  flags: {
    state: {
      type: 'string',
      value: 'S',
      description: 'callback: the OAuth2 state (the routing key)',
    },
    url: {
      type: 'string',
      value: 'U',
      description: 'callback: the full callback URL, query and fragment included',
    },
    'request-id': {
      type: 'string',
      value: 'R',
      description: 'ciba: the authentication request id (the routing key)',
    },
    'access-token': {
      type: 'string',
      value: 'T',
      description: 'ciba: the bearer token of the ping/push call',
    },
    'push-token-json': {
      type: 'string',
      value: '@file|-|JSON',
      description:
        'ciba: the push token, wire format: {"access_token","token_type","refresh_token","expires_at","id_token"}',
      complete: 'file',
    },
    'push-error': {
      type: 'string',
      value: 'E',
      description: 'ciba: a push error code, such as access_denied',
    },
    'push-error-description': {
      type: 'string',
      value: 'D',
      description: 'ciba: the push error description',
    },
    domain: {
      type: 'string',
      value: 'D',
      description: 'powens: the Powens domain (the routing key), such as example.biapi.pro',
    },
    event: {
      type: 'string',
      value: 'E',
      description: 'powens: the webhook event, such as USER_CREATED',
    },
    payload: {
      type: 'string',
      value: '@file|-|TEXT',
      description: 'powens: the raw request body. Default: empty',
      complete: 'file',
    },
    'user-token': {
      type: 'string',
      value: 'T',
      description: 'powens: the user token of a user-authenticated webhook',
    },
    signature: {
      type: 'string',
      value: 'S',
      description: 'powens: the BI-Signature header (base64)',
    },
    'signature-date': {
      type: 'string',
      value: 'D',
      description: 'powens: the BI-Signature-Date header (ISO 8601 with a timezone)',
    },
    'request-path': {
      type: 'string',
      value: 'P',
      description:
        'powens: the request path the signature covers. Default: /powens-webhook/<domain>/<event>',
    },
    raw: {
      type: 'string',
      value: '@file|-|JSON',
      description: 'a whole message in wire format (JSON)',
      complete: 'file',
    },
    kind: {
      type: 'string',
      value: 'K',
      description: 'with --raw: callback, ciba or powens',
      complete: ['callback', 'ciba', 'powens'],
    },
    timeout: {
      type: 'string',
      value: 'DURATION',
      description: 'how long the broker may take to accept it. Default: 10s',
    },
    ...BROKER_FLAGS,
  },
  examples: [
    "teal-amq send callback --state b1f3c9 --url 'https://app.test/callback?state=b1f3c9&code=42'",
    'teal-amq send ciba --request-id 1c266114 --access-token @token.txt --push-error access_denied',
    'echo \'{"id": 1}\' | teal-amq send powens --domain example.biapi.pro --event USER_CREATED --payload - --user-token @user-token.txt',
    'teal-amq send --raw @message.json --kind callback --amqp-url amqp://guest:guest@localhost:5672',
  ],
  run: runSend,
};

async function runSend(parsed: ParsedArgs, io: CliIo): Promise<number> {
  const form = stringFlag(parsed, 'raw') === undefined ? parsed.positionals[0] : '--raw';
  if (form === undefined) {
    throw usageError('what to send? give callback, ciba, powens, or --raw @file --kind K', 'send');
  }
  if (parsed.positionals.length > (form === '--raw' ? 0 : 1)) {
    throw usageError(
      `unexpected argument ${JSON.stringify(parsed.positionals.at(-1)?.slice(0, 40))}`,
      'send',
    );
  }
  for (const [flag, owner] of Object.entries(FORM_OF_FLAG)) {
    if (parsed.values[flag] !== undefined && owner !== form) {
      throw usageError(`--${flag} belongs to send ${owner}, not send ${form}`, 'send');
    }
  }
  const message = await messageOf(form, parsed, io);
  const timeoutMs = parseDuration('timeout', stringFlag(parsed, 'timeout') ?? '10s', 'send');
  const settings = brokerSettings(parsed.values, io.env);
  const handler = await openHandler(settings, io, { sendTimeoutMs: timeoutMs });
  try {
    const started = performance.now();
    await handler
      .send(message, io.signal === undefined ? {} : { signal: io.signal })
      .catch((error: unknown) => {
        throw brokerError('the broker did not take the message', error, settings.url);
      });
    io.stdout.write(
      `sent ${message.kind} message, ${KEY_OF_KIND[message.kind]} ${routingKeyOf(message)}, in ${formatMs(performance.now() - started)}\n`,
    );
    return EXIT.ok;
  } finally {
    await handler.close();
  }
}

/** The message the flags describe, validated as a received one would be: wire format in. */
async function messageOf(form: string, parsed: ParsedArgs, io: CliIo): Promise<Message> {
  let kind: MessageKind;
  let wire: string;
  switch (form) {
    case 'callback':
      kind = 'callback';
      wire = JSON.stringify({
        url: requiredFlag(parsed, 'url', 'send'),
        state: requiredFlag(parsed, 'state', 'send'),
      });
      break;
    case 'ciba':
      kind = 'openid_ciba_callback';
      wire = JSON.stringify(await cibaWire(parsed, io));
      break;
    case 'powens':
      kind = 'powens_webhook';
      wire = JSON.stringify(await powensWire(parsed, io));
      break;
    case '--raw':
      kind = parseKind(stringFlag(parsed, 'kind') ?? missingKind(), 'send');
      wire = await readValue('raw', requiredFlag(parsed, 'raw', 'send'), io.stdin);
      break;
    default:
      throw usageError(
        `cannot send ${JSON.stringify(form.slice(0, 40))}: give callback, ciba, powens, or --raw`,
        'send',
      );
  }
  try {
    return decodeMessage(kind, wire);
  } catch (error) {
    if (error instanceof MessageDecodeError) {
      throw new CliError(
        `invalid ${kind} message: ${error.message.replace(/^\[@teal\/messages\] /, '')}`,
        EXIT.invalidMessage,
        { cause: error },
      );
    }
    throw error;
  }
}

function missingKind(): never {
  throw usageError('--raw needs --kind: callback, ciba or powens', 'send');
}

async function optionalValue(parsed: ParsedArgs, flag: string, io: CliIo): Promise<string | null> {
  const value = stringFlag(parsed, flag);
  return value === undefined ? null : readValue(flag, value, io.stdin);
}

async function cibaWire(parsed: ParsedArgs, io: CliIo): Promise<Record<string, unknown>> {
  const pushTokenText = await optionalValue(parsed, 'push-token-json', io);
  const pushError = stringFlag(parsed, 'push-error');
  if (pushTokenText !== null && pushError !== undefined) {
    throw usageError('give --push-token-json or --push-error, not both', 'send');
  }
  if (pushError === undefined && stringFlag(parsed, 'push-error-description') !== undefined) {
    throw usageError('--push-error-description needs --push-error', 'send');
  }
  let pushToken: unknown = null;
  if (pushTokenText !== null) {
    try {
      pushToken = JSON.parse(pushTokenText);
    } catch {
      // The parser's message quotes the text, tokens included.
      throw new CliError(
        'invalid openid_ciba_callback message: --push-token-json is not JSON',
        EXIT.invalidMessage,
      );
    }
  }
  return {
    request_id: requiredFlag(parsed, 'request-id', 'send'),
    access_token: await optionalValue(parsed, 'access-token', io),
    push_token: pushToken,
    push_error:
      pushError === undefined
        ? null
        : {
            error: pushError,
            error_description: stringFlag(parsed, 'push-error-description') ?? null,
          },
  };
}

async function powensWire(parsed: ParsedArgs, io: CliIo): Promise<Record<string, unknown>> {
  const domain = requiredFlag(parsed, 'domain', 'send');
  const event = requiredFlag(parsed, 'event', 'send');
  const signature = stringFlag(parsed, 'signature');
  const signatureDate = stringFlag(parsed, 'signature-date');
  const userToken = await optionalValue(parsed, 'user-token', io);
  if (signature !== undefined && userToken !== null) {
    throw usageError('give --user-token or --signature, not both', 'send');
  }
  if (
    signature === undefined &&
    (signatureDate !== undefined || stringFlag(parsed, 'request-path') !== undefined)
  ) {
    throw usageError('--signature-date and --request-path go with --signature', 'send');
  }
  let hmacSignature: Record<string, unknown> | null = null;
  if (signature !== undefined) {
    try {
      // What the listener records from the request's headers.
      const read = powensHMACSignatureFromRequest({
        method: 'POST',
        path: stringFlag(parsed, 'request-path') ?? `/powens-webhook/${domain}/${event}`,
        headers: {
          'bi-signature': signature,
          ...(signatureDate === undefined ? {} : { 'bi-signature-date': signatureDate }),
        },
      });
      hmacSignature = read && {
        signature: read.signature,
        payload_prefix: read.payloadPrefix,
        signature_date: read.signatureDate?.toISOString() ?? null,
      };
    } catch (error) {
      if (error instanceof PowensSignatureError) {
        const flag = /date/i.test(error.message) ? '--signature-date' : '--signature';
        throw new CliError(
          `invalid powens_webhook message: ${flag}: ${error.message.replace(/^\[@teal\/messages\] /, '')}`,
          EXIT.invalidMessage,
          { cause: error },
        );
      }
      throw error;
    }
  }
  return {
    domain,
    event,
    payload: (await optionalValue(parsed, 'payload', io)) ?? '',
    user_token: userToken,
    hmac_signature: hmacSignature,
  };
}
