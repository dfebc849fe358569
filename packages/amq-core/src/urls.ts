import { AMQSettingsError } from './errors';
import { maskUrl } from './logger';

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
