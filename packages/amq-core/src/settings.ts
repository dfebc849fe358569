import { AMQSettingsError } from './errors';
import { maskUrl } from './logger';

/** Where a handler connects, as the Python original's `AMQSettings` has it. */
export interface AMQSettings {
  /** The broker URL; its scheme picks the adapter (`memory:`, `amqp:`, `redis:`, `nats:` …). */
  url: string;
  /** Prepended to every exchange name. Default `''`. */
  exchangePrefix?: string;
}

/**
 * Reads `AMQP_URL` (required) and `AMQP_EXCHANGE_PREFIX` (default empty), the
 * variables the Python original reads.
 */
export function settingsFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): AMQSettings {
  const url = env.AMQP_URL?.trim();
  if (!url) {
    throw new AMQSettingsError(
      'AMQP_URL',
      '[@teal/amq-core] AMQP_URL is not set: set it to the broker URL, for example memory:// or amqp://guest:guest@localhost:5672',
    );
  }
  parseBrokerUrl(url, 'AMQP_URL');
  return { url, exchangePrefix: env.AMQP_EXCHANGE_PREFIX ?? '' };
}

/** Parses a broker URL, with an error that names the setting and never shows the password. */
export function parseBrokerUrl(url: string, setting = 'url'): URL {
  if (typeof url !== 'string' || url === '') {
    throw new AMQSettingsError(
      setting,
      `[@teal/amq-core] ${setting} must be a non-empty URL string`,
    );
  }
  try {
    return new URL(url);
  } catch {
    // The parser's error carries the input, password included: not kept as a cause.
    throw new AMQSettingsError(
      setting,
      `[@teal/amq-core] ${setting} is not a valid URL: ${maskUrl(url)}`,
    );
  }
}

/** A URL safe to log: the password is masked, whatever the URL's shape. */
export function redactUrl(url: string | URL): string {
  const text = String(url);
  if (!URL.canParse(text)) return maskUrl(text);
  const parsed = new URL(text);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
