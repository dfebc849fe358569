import type { Logger } from '@teal/amq-core';
import { maskUrl } from '@teal/amq-core';
import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';

/**
 * Fields pino blanks wherever they appear in a log record: credentials,
 * tokens, signatures and payloads never reach the logs.
 */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["bi-signature"]',
  'headers.authorization',
  'headers.cookie',
  '*.authorization',
  '*.password',
  '*.credentials',
  '*.token',
  '*.access_token',
  '*.accessToken',
  '*.refresh_token',
  '*.refreshToken',
  '*.id_token',
  '*.idToken',
  '*.user_token',
  '*.userToken',
  '*.signature',
  '*.payload',
];

// A query or fragment parameter anywhere in a line, as JSON writes it: the
// name runs to `=` (at most 256 characters), the value to the next `&`, `#`,
// quote or blank; an escape (`\"`) counts as one character. Linear: every
// character is looked at a bounded number of times.
const PARAMETER_VALUE = /([?&#][^=&#?"\\\s]{0,256}=)(?:[^&#"\\\s]|\\.)+/g;
// The credentials of an `Authorization`-style value: `Bearer x`, `Basic x`.
const SCHEME_CREDENTIALS = /\b(bearer|basic)( +)(?:[^"\\\s,]|\\.)+/gi;
// The password of `scheme://user:password@host`; the bounds keep it linear.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]{0,31}:\/\/[^/\s:@"]{0,256}:)[^/\s@"]{1,256}@/gi;

/**
 * The last redaction, on every line the process writes, whoever wrote it
 * (Fastify, its plugins, the handler, this service): every query and
 * fragment value, every URL password and every Bearer or Basic credential
 * is masked, even in a field that no redaction path or serializer knows.
 */
export function redactLine(line: string): string {
  return line
    .replace(PARAMETER_VALUE, '$1***')
    .replace(SCHEME_CREDENTIALS, '$1$2***')
    .replace(URL_PASSWORD, '$1***@');
}

interface RequestLike {
  readonly method?: string;
  readonly url?: string;
  readonly ip?: string;
  readonly socket?: { readonly remoteAddress?: string };
}

/**
 * The request as logged: method and path, every query value masked, since
 * OAuth `state` and `code`, and the WebSocket `credentials`, travel there.
 */
export function serializeRequest(request: RequestLike): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url === undefined ? undefined : maskUrl(request.url),
    remoteAddress: request.ip ?? request.socket?.remoteAddress,
  };
}

/**
 * The demo's structured logger: JSON lines, secrets redacted; `fields`
 * (the active span's `trace_id` and `span_id`) joins every record.
 */
export function createLogger(
  level: string,
  destination?: DestinationStream,
  fields?: () => Record<string, string>,
): PinoLogger {
  return pino(
    {
      level,
      ...(fields === undefined ? {} : { mixin: fields }),
      redact: { paths: [...REDACTED_PATHS], censor: '***' },
      hooks: { streamWrite: redactLine },
      serializers: {
        req: serializeRequest,
        res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }),
        err: pino.stdSerializers.err,
      },
    },
    destination,
  );
}

/** The same logger in the shape `@teal/amq-core` handlers take. */
export function amqLoggerOf(log: PinoLogger): Logger {
  const child = log.child({ component: 'amq' });
  return {
    debug: (message, fields) => child.debug(fields ?? {}, message),
    info: (message, fields) => child.info(fields ?? {}, message),
    warn: (message, fields) => child.warn(fields ?? {}, message),
    error: (message, fields) => child.error(fields ?? {}, message),
  };
}
