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
  return checkScheme(parseBrokerUrl(url, 'url'), adapter, schemes);
}

function checkScheme(url: URL, adapter: string, schemes: readonly string[]): URL {
  if (!schemes.includes(url.protocol)) {
    throw new AMQSettingsError(
      'url',
      `[${adapter}] url must be a ${schemes.join(' or ')} URL, not ${url.protocol}`,
    );
  }
  return url;
}

/**
 * Parses a broker URL that may name several hosts, comma-separated
 * (`amqp://user:pass@h1:5701,h2:5702,h3:5703/vhost?heartbeat=5`): one URL per
 * host, each with the scheme, credentials, path and query of the whole. A URL
 * of one host gives one URL. Errors as `parseBrokerUrl()`'s.
 */
export function parseSeedUrls(url: string, setting = 'url'): URL[] {
  const hosts = typeof url === 'string' ? hostListOf(url) : null;
  if (hosts === null) return [parseBrokerUrl(url, setting)];
  const { head, list, tail } = hosts;
  return list.split(',').map((host) => {
    if (host.trim() === '') {
      throw new AMQSettingsError(
        setting,
        `[@teal/amq-core] ${setting} has an empty host in its list of hosts: ${maskUrl(url)}`,
      );
    }
    return parseBrokerUrl(head + host + tail, setting);
  });
}

/** `parseSeedUrls()` for an adapter: each seed's scheme checked as `adapterUrlOf()` checks one. */
export function seedUrlsOf(url: string, adapter: string, schemes: readonly string[]): URL[] {
  const seeds = parseSeedUrls(url, 'url');
  for (const seed of seeds) checkScheme(seed, adapter, schemes);
  return seeds;
}

/**
 * Where the hosts of `scheme://userinfo@hosts/…` stand, when there are
 * several: the authority ends at the first `/`, `?` or `#`, and the user
 * information at its last `@` (as the URL parser reads them). Plain index
 * searches, so that any input takes linear time.
 */
function hostListOf(url: string): { head: string; list: string; tail: string } | null {
  const scheme = url.indexOf('://');
  if (scheme < 1) return null;
  const from = scheme + 3;
  let end = url.length;
  for (const delimiter of ['/', '?', '#']) {
    const at = url.indexOf(delimiter, from);
    if (at !== -1 && at < end) end = at;
  }
  const at = url.lastIndexOf('@', end - 1);
  const start = at >= from ? at + 1 : from;
  const list = url.slice(start, end);
  if (!list.includes(',')) return null;
  return { head: url.slice(0, start), list, tail: url.slice(end) };
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

/**
 * `parseSeedUrls()` as one URL (the first host's) and the list of hosts, for
 * a client library that takes the hosts apart (ioredis's cluster and
 * sentinel lists).
 */
export function parseSeedUrl(
  url: string,
  setting = 'url',
): { readonly url: URL; readonly hosts: readonly SeedHost[] } {
  const seeds = parseSeedUrls(url, setting);
  return {
    url: seeds[0]!,
    hosts: seeds.map((seed) => ({ hostname: seed.hostname, port: seed.port })),
  };
}
