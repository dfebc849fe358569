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
    expect(() => resolveSettings({ url: 'redis://user:hunter2@127.0.0.1?cluster=maybe' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });
});
