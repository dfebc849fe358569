import type { Message } from '@teal/messages';

/** Structured fields of a log record. Never put tokens or payloads here. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The logger handlers write to; pino, winston and console fit it with a line of glue. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** The default logger: warnings and errors as JSON lines on stderr, nothing below. */
export const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn(message, fields) {
    writeRecord('warn', message, fields);
  },
  error(message, fields) {
    writeRecord('error', message, fields);
  },
};

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

function writeRecord(level: string, message: string, fields: LogFields | undefined): void {
  const record = { level, time: new Date().toISOString(), msg: message, ...fields };
  console.error(JSON.stringify(record, errorReplacer));
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}

const MASK = '***';

/**
 * A message for debug output, with every secret masked: tokens, payloads,
 * signatures, and the query and fragment values of callback URLs.
 */
export function maskMessage(message: Message): Record<string, unknown> {
  switch (message.kind) {
    case 'callback':
      return { ...message, url: maskUrl(message.url) };
    case 'openid_ciba_callback':
      return {
        ...message,
        accessToken: message.accessToken && MASK,
        pushToken: message.pushToken && {
          ...message.pushToken,
          accessToken: MASK,
          refreshToken: MASK,
          idToken: message.pushToken.idToken && MASK,
        },
      };
    case 'powens_webhook':
      return {
        ...message,
        userToken: message.userToken && MASK,
        payload: `<${message.payload.length} characters>`,
        hmacSignature: message.hmacSignature && { ...message.hmacSignature, signature: MASK },
      };
  }
}

/** A URL with its password and every query and fragment value masked. */
export function maskUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*@/i, `$1${MASK}@`)
    .replace(/([?&#][^=&#]*=)[^&#]*/g, `$1${MASK}`);
}
