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

/** Longer URLs are cut, after their credentials are masked, before anything else looks at them. */
const MAX_MASKED_URL_LENGTH = 2_048;

/**
 * A URL with its password and every query and fragment value masked, cut to
 * 2,048 characters. It takes anything, URL or not (a request target, a
 * setting someone mistyped), and runs in time linear in its length.
 */
export function maskUrl(url: string): string {
  const masked = maskParameters(maskCredentials(String(url)));
  return masked.length > MAX_MASKED_URL_LENGTH
    ? `${masked.slice(0, MAX_MASKED_URL_LENGTH)}…[${masked.length - MAX_MASKED_URL_LENGTH} more characters]`
    : masked;
}

/**
 * Masks the password of `scheme://user:password@host`. In a URL that does not
 * parse, the password may hold `/`, `?`, `#` or `@`, so everything between
 * `://` and the last `@` goes.
 */
function maskCredentials(url: string): string {
  const authority = url.indexOf('://');
  if (authority < 1) return url;
  if (URL.canParse(url)) {
    // A valid URL's user information holds none of `/ ? # @`: the password ends at the first `@`.
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#@]*@/i, `$1${MASK}@`);
  }
  const at = url.lastIndexOf('@');
  if (at < authority) return url;
  return `${url.slice(0, authority + 3)}${MASK}${url.slice(at)}`;
}

/**
 * Masks every `name=value` value of the query and fragment: parameters run
 * from `?` (its first occurrence), `&` or `#` to the next `&` or `#`, and the
 * name ends at the first `=`. One pass over the text, no backtracking.
 */
function maskParameters(url: string): string {
  const chunks = url.split(/[&#]/);
  const delimiters = url.match(/[&#]/g) ?? [];
  let result = '';
  for (let index = 0; index < chunks.length; index++) {
    const chunk = chunks[index]!;
    // Before the first `&` or `#`, a parameter starts at the first `?`.
    const start = index === 0 ? chunk.indexOf('?') : 0;
    const equals = start < 0 ? -1 : chunk.indexOf('=', start);
    result += equals < 0 ? chunk : `${chunk.slice(0, equals + 1)}${MASK}`;
    if (index < delimiters.length) result += delimiters[index];
  }
  return result;
}
