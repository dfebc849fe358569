import { describe, expect, it } from 'vitest';
import {
  type AdapterModule,
  AMQSettingsError,
  adapterPackageOf,
  connect,
  connectMemory,
  registerAdapter,
} from '../src/index';

/** An adapter of this test's own: the memory broker behind another scheme, counting its connects. */
function countingAdapter(): AdapterModule & { connects: string[] } {
  const connects: string[] = [];
  return {
    connects,
    connect: (options) => {
      connects.push(options.url);
      return connectMemory({ ...options, url: 'memory://third-party' });
    },
  };
}

describe('plugging adapters in', () => {
  it('connects with an adapter module given directly, whatever the scheme', async () => {
    const adapter = countingAdapter();
    const handler = await connect({ url: 'kafka://broker:9092', adapter });
    expect(adapter.connects).toEqual(['kafka://broker:9092']);
    await handler.close();
  });

  it('loads a registered adapter for its scheme, lazily, and lets it replace a built-in one', async () => {
    const adapter = countingAdapter();
    let loads = 0;
    registerAdapter('teal-test', async () => {
      loads++;
      return adapter;
    });
    expect(loads).toBe(0);
    const handler = await connect({ url: 'teal-test://somewhere' });
    expect(loads).toBe(1);
    expect(adapter.connects).toEqual(['teal-test://somewhere']);
    await handler.close();

    const replacement = countingAdapter();
    registerAdapter('teal-test:', async () => replacement);
    await (await connect({ url: 'teal-test://again' })).close();
    expect(replacement.connects).toEqual(['teal-test://again']);
  });

  it('refuses a scheme that is not one, and an adapter without connect()', async () => {
    expect(() => registerAdapter('not a scheme', async () => countingAdapter())).toThrow(
      AMQSettingsError,
    );
    registerAdapter('teal-empty', async () => ({}) as AdapterModule);
    await expect(connect({ url: 'teal-empty://x' })).rejects.toThrow(/does not export connect\(\)/);
  });

  it('keeps the first-party adapters as defaults, each named by its package', () => {
    expect(adapterPackageOf('postgres:')).toBe('@teal/amq-postgres');
    expect(adapterPackageOf('postgresql:')).toBe('@teal/amq-postgres');
    expect(adapterPackageOf('memory:')).toBeUndefined();
  });
});
