import { AMQSettingsError } from '@teal/amq-core';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../src/settings';

const url = 'redis://127.0.0.1:6379';

describe('redis-streams settings', () => {
  it('fills in the documented defaults', () => {
    expect(resolveSettings({ url })).toMatchObject({
      cluster: false,
      exchangePrefix: '',
      buckets: 16,
      maxLength: 100_000,
      retentionMs: 300_000,
      blockMs: 5_000,
      readCount: 1_000,
    });
  });

  it('reads cluster=true from the URL and keeps it away from ioredis', () => {
    const settings = resolveSettings({ url: `${url}/0?cluster=true&family=4` });
    expect(settings.cluster).toBe(true);
    expect(settings.url.search).toBe('?family=4');
    expect(resolveSettings({ url: `${url}?cluster=true`, cluster: false }).cluster).toBe(false);
    expect(() => resolveSettings({ url: `${url}?cluster=yes` })).toThrow(
      /cluster parameter of url/,
    );
  });

  it('takes several seed nodes of a Redis Cluster, and refuses several hosts without cluster', () => {
    const settings = resolveSettings({
      url: 'redis://:pw@127.0.0.1:7001,127.0.0.1:7002,[::1]:7003?cluster=true',
    });
    expect(settings.cluster).toBe(true);
    expect(settings.hosts).toEqual([
      { hostname: '127.0.0.1', port: '7001' },
      { hostname: '127.0.0.1', port: '7002' },
      { hostname: '[::1]', port: '7003' },
    ]);
    expect(settings.url.password).toBe('pw');
    expect(() => resolveSettings({ url: 'redis://:pw@h1:7001,h2:7002' })).toThrow(
      /names 2 hosts: add \?cluster=true/,
    );
    expect(() => resolveSettings({ url: 'redis://h1:7001,,h2:7002?cluster=true' })).toThrow(
      /empty host/,
    );
  });

  it('reads a redis+sentinel URL: the sentinels, the master name in the path, a database', () => {
    const settings = resolveSettings({
      url: 'redis+sentinel://:pw@127.0.0.1:27101,127.0.0.1:27102/teal/2?durability=replicated',
    });
    expect(settings).toMatchObject({
      sentinelMaster: 'teal',
      cluster: false,
      durability: 'replicated',
    });
    expect(settings.hosts).toHaveLength(2);
    expect(settings.url.search).toBe('');
    for (const bad of ['redis+sentinel://s1:27101', 'redis+sentinel://s1:27101/teal/x']) {
      expect(() => resolveSettings({ url: bad })).toThrow(/names the master in its path/);
    }
    expect(() => resolveSettings({ url: 'redis+sentinel://s1:27101/teal?cluster=true' })).toThrow(
      /Sentinels, not a Redis Cluster/,
    );
  });

  it('reads durability from the options or the URL, and refuses anything else', () => {
    expect(resolveSettings({ url }).durability).toBe('primary');
    expect(resolveSettings({ url: `${url}?durability=replicated` }).durability).toBe('replicated');
    expect(
      resolveSettings({ url: `${url}?durability=replicated`, durability: 'primary' }).durability,
    ).toBe('primary');
    expect(() => resolveSettings({ url: `${url}?durability=always` })).toThrow(
      /durability \(the durability parameter of url\) must be primary or replicated/,
    );
  });

  it('reads its numeric settings from the URL, under the options given to connect()', () => {
    const settings = resolveSettings({
      url: `${url}?retentionMs=60000&buckets=64&db=2`,
      buckets: 32,
    });
    expect(settings).toMatchObject({ retentionMs: 60_000, buckets: 32 });
    expect(settings.url.search).toBe('?db=2');
  });

  it.each([
    ['url', { url: 'amqp://127.0.0.1' }, /redis: or rediss:/],
    [
      'url',
      { url: `${url}?maxLength=lots` },
      /maxLength \(the maxLength parameter of url\) must be an integer/,
    ],
    ['url', { url: 'not a url' }, /not a valid URL/],
    ['buckets', { url, buckets: 0 }, /buckets must be an integer from 1/],
    ['buckets', { url, buckets: 1.5 }, /buckets/],
    ['maxLength', { url, maxLength: -1 }, /maxLength/],
    ['retentionMs', { url, retentionMs: Number.NaN }, /retentionMs/],
    ['blockMs', { url, blockMs: 0 }, /blockMs/],
    ['readCount', { url, readCount: 0 }, /readCount/],
    ['durability', { url, durability: 'sometimes' as never }, /durability must be primary/],
  ])('rejects a bad %s with an error naming it', (setting, options, message) => {
    let error: unknown;
    try {
      resolveSettings(options);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AMQSettingsError);
    expect((error as AMQSettingsError).setting).toBe(setting);
    expect((error as Error).message).toMatch(message);
  });

  it('never shows a URL password in its errors', () => {
    for (const bad of [
      'redis://user:hunter2@127.0.0.1?cluster=maybe',
      'redis://user:hunter2@h1:7001,h2:7002',
      'redis://user:hunter2@h1:7001,h 2:7002?cluster=true',
      'redis+sentinel://user:hunter2@s1:27101,s2:27102',
    ]) {
      expect(() => resolveSettings({ url: bad })).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
      );
    }
  });
});
