import {
  type AdapterModule,
  AMQAdapterMissingError,
  type AMQHandler,
  AMQSettingsError,
  type ConnectOptions,
  messageOf,
  parseSeedUrls,
} from '@teal/amq-core/adapter';
import { connectMemory } from './memory/transport';

/** Loads the adapter module that serves a URL scheme. */
export type AdapterLoader = () => Promise<AdapterModule>;

interface Registration {
  readonly load: AdapterLoader;
  /** The npm package the loader imports, named when it is not installed. */
  readonly packageName?: string;
}

/** The first-party adapters, by scheme: each loaded from its package when first used. */
const BUILT_IN: ReadonlyArray<readonly [string, string]> = [
  ['amqp:', '@teal/amq-amqp'],
  ['amqps:', '@teal/amq-amqp'],
  ['redis:', '@teal/amq-redis-streams'],
  ['rediss:', '@teal/amq-redis-streams'],
  ['redis+sentinel:', '@teal/amq-redis-streams'],
  ['rediss+sentinel:', '@teal/amq-redis-streams'],
  ['nats:', '@teal/amq-nats'],
  ['tls:', '@teal/amq-nats'],
  ['postgres:', '@teal/amq-postgres'],
  ['postgresql:', '@teal/amq-postgres'],
];

const adapters = new Map<string, Registration>([
  ['memory:', { load: async () => ({ connect: connectMemory }) }],
  ...BUILT_IN.map(
    ([scheme, packageName]) =>
      [scheme, { load: () => importAdapter(packageName, scheme), packageName }] as const,
  ),
]);

/** The adapter package that serves a URL scheme (`amqp:` → `@teal/amq-amqp`), if it is a package. */
export function adapterPackageOf(scheme: string): string | undefined {
  return adapters.get(scheme)?.packageName;
}

/**
 * Makes `connect()` load `load()`'s adapter for URLs of `scheme` (`kafka` or
 * `kafka:`), in place of the adapter that served it before, if any.
 */
export function registerAdapter(scheme: string, load: AdapterLoader): void {
  const normalized = scheme.endsWith(':') ? scheme.toLowerCase() : `${scheme.toLowerCase()}:`;
  if (!/^[a-z][a-z0-9+.-]{0,31}:$/.test(normalized)) {
    throw new AMQSettingsError(
      'scheme',
      `[@teal/amq-core] registerAdapter(): ${JSON.stringify(scheme.slice(0, 40))} is not a URL scheme: use letters, digits, + . - (kafka, or kafka:)`,
    );
  }
  if (typeof load !== 'function') {
    throw new TypeError(
      '[@teal/amq-core] registerAdapter(): load must be a function returning the adapter module',
    );
  }
  adapters.set(normalized, { load });
}

/**
 * Connects a handler to the broker the URL names: with the adapter module
 * given as `adapter`, else with the one registered for the URL's scheme
 * (`memory:` is built in; the first-party adapters load their package, which
 * must be installed).
 */
export async function connect(
  options: ConnectOptions & { readonly adapter?: AdapterModule },
): Promise<AMQHandler> {
  const { adapter, ...settings } = options;
  // Its scheme is all this needs: the first of several hosts tells it.
  const [url] = parseSeedUrls(settings.url, 'url') as [URL];
  let module: AdapterModule;
  if (adapter !== undefined) {
    module = adapter;
  } else {
    const registration = adapters.get(url.protocol);
    if (registration === undefined) {
      throw new AMQSettingsError(
        'url',
        `[@teal/amq-core] unsupported URL scheme ${url.protocol} in url: use ${[...adapters.keys()].join(', ')}, or registerAdapter() for another`,
      );
    }
    module = await registration.load();
  }
  if (typeof module?.connect !== 'function') {
    throw new AMQSettingsError(
      'adapter',
      '[@teal/amq-core] the adapter module does not export connect()',
    );
  }
  return module.connect(settings);
}

/** Runs `fn` with a connected handler and always closes it. */
export async function withHandler<T>(
  options: ConnectOptions & { readonly adapter?: AdapterModule },
  fn: (handler: AMQHandler) => Promise<T> | T,
): Promise<T> {
  const handler = await connect(options);
  try {
    return await fn(handler);
  } finally {
    await handler.close();
  }
}

async function importAdapter(packageName: string, scheme: string): Promise<AdapterModule> {
  try {
    return (await import(packageName)) as AdapterModule;
  } catch (error) {
    if (isMissingPackage(error, packageName)) {
      throw new AMQAdapterMissingError(packageName, scheme, { cause: error });
    }
    throw error;
  }
}

function isMissingPackage(error: unknown, packageName: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    messageOf(error).includes(packageName)
  );
}
