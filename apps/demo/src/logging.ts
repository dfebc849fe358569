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
