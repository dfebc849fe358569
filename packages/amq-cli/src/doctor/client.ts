import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** The adapter a URL scheme loads and the broker client it is built on. */
export const CLIENTS: Readonly<Record<string, { adapter: string; client: string }>> = {
  'amqp:': { adapter: '@teal/amq-amqp', client: 'amqplib' },
  'amqps:': { adapter: '@teal/amq-amqp', client: 'amqplib' },
  'redis:': { adapter: '@teal/amq-redis-streams', client: 'ioredis' },
  'rediss:': { adapter: '@teal/amq-redis-streams', client: 'ioredis' },
  'nats:': { adapter: '@teal/amq-nats', client: '@nats-io/transport-node' },
  'tls:': { adapter: '@teal/amq-nats', client: '@nats-io/transport-node' },
  'postgres:': { adapter: '@teal/amq-postgres', client: 'pg' },
  'postgresql:': { adapter: '@teal/amq-postgres', client: 'pg' },
};

/** The client could not be loaded: the check goes on without the broker's version. */
export class ClientUnavailableError extends Error {
  override name = 'ClientUnavailableError';
}

/**
 * Where core resolves adapters from: `connect()` imports them there, so the
 * adapter found here is the one the handler uses.
 */
function requireFromCore(): NodeJS.Require {
  return createRequire(createRequire(import.meta.url).resolve('@teal/amq-core'));
}

/** The version of an installed package beside core (an adapter, or core itself). */
export function installedVersion(packageName: string): string | null {
  try {
    const require = requireFromCore();
    const manifest = require(`${packageName}/package.json`) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : null;
  } catch {
    return null;
  }
}

/**
 * The broker client library as the adapter installed it (amqplib, ioredis,
 * @nats-io/transport-node, pg), resolved from the adapter's own place: the
 * CLI asks the broker what only its protocol tells (version, clock) without
 * depending on any client itself.
 */
export async function loadClient(adapter: string, client: string): Promise<unknown> {
  let entry: string;
  try {
    const adapterEntry = requireFromCore().resolve(adapter);
    entry = createRequire(adapterEntry).resolve(client);
  } catch (cause) {
    throw new ClientUnavailableError(`${client} is not found beside ${adapter}`, { cause });
  }
  return import(pathToFileURL(entry).href);
}

/** A module's named export, whether it came as an ES module or as CommonJS through `import()`. */
export function exportOf<T>(module: unknown, name: string): T {
  const direct = (module as Record<string, unknown>)[name];
  const viaDefault = (module as { default?: Record<string, unknown> }).default?.[name];
  const found = direct ?? viaDefault;
  if (found === undefined) throw new ClientUnavailableError(`the client has no ${name} export`);
  return found as T;
}
