import { isIP } from 'node:net';

/** A setting that stops the service at start; `variable` names the culprit. */
export class DemoConfigError extends Error {
  override readonly name = 'DemoConfigError';
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(`[@teal/demo] ${variable} ${message}`);
    this.variable = variable;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export function readInteger(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new DemoConfigError(name, `must be an integer from ${min} to ${max}, not "${text}"`);
  }
  return value;
}

export function readHttpUrl(env: Env, name: string): string | null {
  const text = env[name];
  if (text === undefined || text === '') return null;
  let url: URL | null = null;
  try {
    url = new URL(text);
  } catch {}
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new DemoConfigError(name, 'must be an absolute http: or https: URL');
  }
  return text;
}

export function readChoice(
  env: Env,
  name: string,
  choices: readonly string[],
  fallback: string,
): string {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!choices.includes(text)) {
    throw new DemoConfigError(name, `must be one of ${choices.join(', ')}, not "${text}"`);
  }
  return text;
}

/**
 * Which peers may set `X-Forwarded-*`, in Fastify's `trustProxy` terms:
 * `false` (none), `true` (any: only behind a proxy that overwrites them),
 * a hop count, or a list of addresses and CIDR ranges.
 */
export type TrustProxy = boolean | number | readonly string[];

export function readTrustProxy(env: Env, name: string): TrustProxy {
  const text = env[name]?.trim();
  if (text === undefined || text === '' || text.toLowerCase() === 'false') return false;
  if (text.toLowerCase() === 'true') return true;
  if (/^\d{1,3}$/.test(text)) {
    const hops = Number(text);
    return hops === 0 ? false : hops;
  }
  const ranges = text.split(',').map((range) => range.trim());
  for (const range of ranges) {
    if (!isAddressRange(range)) {
      throw new DemoConfigError(
        name,
        `must be true, false, a hop count or a comma-separated list of addresses and CIDR ranges (10.0.0.0/8, fd00::/8), and "${range.slice(0, 64)}" is none of them`,
      );
    }
  }
  return ranges;
}

function isAddressRange(range: string): boolean {
  const slash = range.indexOf('/');
  const address = slash < 0 ? range : range.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return false;
  if (slash < 0) return true;
  const bits = range.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
}
