import { AMQAdapterMissingError, AMQSettingsError, maskUrl } from '@teal/amq-core';

/** The default port of each scheme, to name the port a URL without one uses. */
const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'amqp:': 5672,
  'amqps:': 5671,
  'redis:': 6379,
  'rediss:': 6379,
  'nats:': 4222,
  'tls:': 4222,
  'postgres:': 5432,
  'postgresql:': 5432,
};

/** The longest error text looked at: every pattern below runs on at most this much. */
const MAX_TEXT = 2_000;

/** What an error and the URL it came from tell: codes, text, where. */
export interface ErrorFacts {
  readonly scheme: string;
  readonly host: string;
  readonly port: number | null;
  /** The port of the scheme when the URL names none. */
  readonly defaultPort: number | null;
  readonly user: string;
  /** The URL's path without its slash: the vhost (RabbitMQ) or the database (PostgreSQL). */
  readonly path: string;
  /** `code` of the error and its causes: `ECONNREFUSED`, `28P01`, `403`. */
  readonly codes: ReadonlySet<string>;
  /** The messages of the error and its causes, secrets masked, lower case, cut. */
  readonly text: string;
  /** The first message, secrets masked, as it may be shown. */
  readonly message: string;
  readonly isAdapterMissing: boolean;
  readonly isSettings: boolean;
}

/** Reads an error and its causes (and an `AggregateError`'s errors) without showing a secret. */
export function factsOf(error: unknown, url: string): ErrorFacts {
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    // A URL that does not parse fails earlier, as a settings error.
  }
  const codes = new Set<string>();
  const messages: string[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number) => {
    if (value === null || typeof value !== 'object' || seen.has(value) || depth > 5) return;
    seen.add(value);
    const { code, message, cause, errors } = value as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string' || typeof code === 'number') codes.add(String(code));
    if (typeof message === 'string' && message !== '') messages.push(message);
    visit(cause, depth + 1);
    if (Array.isArray(errors)) for (const inner of errors.slice(0, 5)) visit(inner, depth + 1);
  };
  visit(error, 0);
  if (messages.length === 0) messages.push(String(error));
  const secrets = secretsOf(parsed);
  const masked = messages.map((message) => mask(message.slice(0, MAX_TEXT), secrets));
  return {
    scheme: parsed?.protocol ?? '',
    host: parsed === null ? '' : parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed === null ? null : Number(parsed.port) || (DEFAULT_PORTS[parsed.protocol] ?? null),
    defaultPort: parsed === null ? null : (DEFAULT_PORTS[parsed.protocol] ?? null),
    user: parsed === null ? '' : decode(parsed.username),
    path: parsed === null ? '' : decode(parsed.pathname.replace(/^\//, '')),
    codes,
    text: masked.join(' | ').slice(0, MAX_TEXT).toLowerCase(),
    message: masked[0]!.slice(0, 300),
    isAdapterMissing: error instanceof AMQAdapterMissingError,
    isSettings: error instanceof AMQSettingsError,
  };
}

/** The URL's password as written and decoded: neither may be shown. */
function secretsOf(url: URL | null): string[] {
  if (url === null || url.password === '') return [];
  return [...new Set([url.password, decode(url.password)])].filter((secret) => secret.length > 0);
}

/** Masks the password wherever it appears, then what looks like a URL with credentials. */
function mask(text: string, secrets: readonly string[]): string {
  let masked = text;
  for (const secret of secrets) masked = masked.split(secret).join('***');
  return masked.replace(/[a-z][a-z0-9+.-]{0,20}:\/\/[^\s'"]{1,2000}/gi, (found) => maskUrl(found));
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
