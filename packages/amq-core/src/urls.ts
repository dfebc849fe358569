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

/**
 * Parses an adapter's broker URL and checks its scheme, with an error that
 * names the schemes the adapter takes.
 */
export function adapterUrlOf(url: string, adapter: string, schemes: readonly string[]): URL {
  const parsed = parseBrokerUrl(url, 'url');
  if (!schemes.includes(parsed.protocol)) {
    throw new AMQSettingsError(
      'url',
      `[${adapter}] url must be a ${schemes.join(' or ')} URL, not ${parsed.protocol}`,
    );
  }
  return parsed;
}

/** An integer setting: its default and its bounds. */
export type IntegerSetting = readonly [defaultValue: number, min: number, max: number];

/**
 * Reads integer settings the way every adapter does: the `connect()` option
 * wins, else the URL's query parameter of the same name (so that `AMQP_URL`
 * alone can carry it), else the default; each within its bounds, with an
 * error naming the option or the URL parameter at fault.
 */
export function integerSettings<Name extends string>(
  adapter: string,
  url: URL,
  options: { readonly [N in NoInfer<Name>]?: number | undefined },
  spec: { readonly [N in Name]: IntegerSetting },
): Record<Name, number> {
  const values = {} as Record<Name, number>;
  for (const name of Object.keys(spec) as Name[]) {
    const [defaultValue, min, max] = spec[name];
    const given = options[name];
    const parameter = url.searchParams.get(name);
    const fromUrl = given === undefined && parameter !== null;
    const value =
      given ??
      (parameter === null
        ? defaultValue
        : parameter.trim() === ''
          ? Number.NaN
          : Number(parameter));
    if (!Number.isInteger(value) || value < min || value > max) {
      const where = fromUrl ? ` (the ${name} parameter of url)` : '';
      throw new AMQSettingsError(
        fromUrl ? 'url' : name,
        `[${adapter}] ${name}${where} must be an integer from ${min} to ${max}, got ${fromUrl ? JSON.stringify(parameter?.slice(0, 40)) : String(value)}`,
      );
    }
    values[name] = value;
  }
  return values;
}

/** A true/false URL parameter (`1`/`0` too); `undefined` when absent. */
export function flagParameter(adapter: string, url: URL, name: string): boolean | undefined {
  const value = url.searchParams.get(name);
  if (value === null) return undefined;
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new AMQSettingsError(
    'url',
    `[${adapter}] the ${name} parameter of url must be true or false`,
  );
}

/** One host of a broker URL: its name (IPv6 in brackets) and its port, `''` when the URL gives none. */
export interface SeedHost {
  readonly hostname: string;
  readonly port: string;
}

/** The scheme and the authority of a URL; linear: two character classes that cannot overlap at their seam. */
const AUTHORITY = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#]*)/;

/**
 * Parses a broker URL whose authority may name several hosts, comma-separated
 * (`redis://:pw@h1:7001,h2:7002/0`, `nats://h1:4222,h2:4222`): the URL with its
 * first host in place of the list, and every host, each checked as the
 * scheme's. A URL of one host parses as `parseBrokerUrl` does; no error shows
 * the password.
 */
export function parseSeedUrl(
  url: string,
  setting = 'url',
): { readonly url: URL; readonly hosts: readonly SeedHost[] } {
  const match = typeof url === 'string' ? AUTHORITY.exec(url) : null;
  if (match === null || !match[2]!.includes(',')) {
    const parsed = parseBrokerUrl(url, setting);
    return { url: parsed, hosts: [{ hostname: parsed.hostname, port: parsed.port }] };
  }
  const scheme = match[1]!;
  const authority = match[2]!;
  const at = authority.lastIndexOf('@');
  const list = authority.slice(at + 1).split(',');
  const hosts = list.map((host) => {
    const text = `${scheme}${host}`;
    const parsed = host !== '' && URL.canParse(text) ? new URL(text) : null;
    if (parsed === null || parsed.hostname === '') {
      throw new AMQSettingsError(
        setting,
        `[@teal/amq-core] ${setting} names an empty or invalid host among its comma-separated hosts: ${JSON.stringify(host.slice(0, 80))}`,
      );
    }
    return { hostname: parsed.hostname, port: parsed.port };
  });
  const rest = url.slice(scheme.length + authority.length);
  return {
    url: parseBrokerUrl(`${scheme}${authority.slice(0, at + 1)}${list[0]}${rest}`, setting),
    hosts,
  };
}
