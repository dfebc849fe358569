import { AMQAdapterMissingError, AMQSettingsError } from './errors';
import { connectMemory } from './memory/connect';
import type { HandlerOptions } from './options';
import { type AMQSettings, parseBrokerUrl } from './settings';
import type { AMQHandler } from './types';

/** What `connect()` takes: the settings and the options every handler has. */
export type ConnectOptions = AMQSettings & HandlerOptions;

/** What an adapter package exports for `connect()` to load it by URL scheme. */
export interface AdapterModule {
  connect(options: ConnectOptions): Promise<AMQHandler>;
}

const ADAPTER_OF_SCHEME: Readonly<Record<string, string>> = {
  'amqp:': '@teal/amq-amqp',
  'amqps:': '@teal/amq-amqp',
  'redis:': '@teal/amq-redis-streams',
  'rediss:': '@teal/amq-redis-streams',
  'nats:': '@teal/amq-nats',
  'tls:': '@teal/amq-nats',
};

/** The adapter package that serves a URL scheme (`amqp:` → `@teal/amq-amqp`), if any. */
export function adapterPackageOf(scheme: string): string | undefined {
  return ADAPTER_OF_SCHEME[scheme];
}

/**
 * Connects a handler to the broker the URL names. `memory:` is built in; other
 * schemes load their adapter package, which must be installed.
 */
export async function connect(options: ConnectOptions): Promise<AMQHandler> {
  const url = parseBrokerUrl(options.url, 'url');
  if (url.protocol === 'memory:') return connectMemory(options);
  const packageName = adapterPackageOf(url.protocol);
  if (packageName === undefined) {
    throw new AMQSettingsError(
      'url',
      `[@teal/amq-core] unsupported URL scheme ${url.protocol} in url: use memory:, amqp:, amqps:, redis:, rediss:, nats: or tls:`,
    );
  }
  const adapter = await loadAdapter(packageName, url.protocol);
  return adapter.connect(options);
}

/** Runs `fn` with a connected handler and always closes it. */
export async function withHandler<T>(
  options: ConnectOptions,
  fn: (handler: AMQHandler) => Promise<T> | T,
): Promise<T> {
  const handler = await connect(options);
  try {
    return await fn(handler);
  } finally {
    await handler.close();
  }
}

async function loadAdapter(packageName: string, scheme: string): Promise<AdapterModule> {
  let module: Partial<AdapterModule>;
  try {
    module = (await import(packageName)) as Partial<AdapterModule>;
  } catch (error) {
    if (isMissingPackage(error, packageName)) {
      throw new AMQAdapterMissingError(packageName, scheme, { cause: error });
    }
    throw error;
  }
  if (typeof module.connect !== 'function') {
    throw new AMQSettingsError('url', `[@teal/amq-core] ${packageName} does not export connect()`);
  }
  return module as AdapterModule;
}

function isMissingPackage(error: unknown, packageName: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    message.includes(packageName)
  );
}
