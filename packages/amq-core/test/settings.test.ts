import { describe, expect, it } from 'vitest';
import {
  adapterUrlOf,
  flagParameter,
  integerSettings,
  parseBrokerUrl,
  parseSeedUrl,
  parseSeedUrls,
  seedUrlsOf,
} from '../src/adapter';

import {
  AMQSettingsError,
  adapterPackageOf,
  connect,
  redactUrl,
  settingsFromEnv,
} from '../src/index';

describe('settingsFromEnv', () => {
  it('reads AMQP_URL and AMQP_EXCHANGE_PREFIX', () => {
    expect(
      settingsFromEnv({ AMQP_URL: 'amqp://u:p@host:5672/vh', AMQP_EXCHANGE_PREFIX: 'app.' }),
    ).toEqual({
      url: 'amqp://u:p@host:5672/vh',
      exchangePrefix: 'app.',
    });
  });

  it('defaults the prefix to empty', () => {
    expect(settingsFromEnv({ AMQP_URL: 'memory://' }).exchangePrefix).toBe('');
  });

  it('names AMQP_URL when it is missing or blank', () => {
    for (const env of [{}, { AMQP_URL: '  ' }]) {
      expect(() => settingsFromEnv(env)).toThrow(AMQSettingsError);
      expect(() => settingsFromEnv(env)).toThrow(/AMQP_URL is not set/);
    }
  });

  it('names AMQP_URL when it is not a URL, without showing a password', () => {
    let error: unknown;
    try {
      settingsFromEnv({ AMQP_URL: 'amqp://user:hunter2@[bad' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AMQSettingsError);
    expect((error as AMQSettingsError).setting).toBe('AMQP_URL');
    expect((error as Error).message).toContain('AMQP_URL');
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain('hunter2');
  });
});

/** Passwords holding every character that makes URL parsers stumble. */
const AWKWARD_PASSWORDS = ['/', '#', '?', '@', '%', '%2F', '/?#@%'].map(
  (awkward) => `hunter${awkward}twoPW`,
);
const SCHEMES = ['amqp', 'amqps', 'redis', 'rediss', 'nats', 'tls', 'memory', 'kafka'];

describe('URL passwords in errors', () => {
  for (const password of AWKWARD_PASSWORDS) {
    it(`never shows a password like ${JSON.stringify(password)}, whatever the scheme`, async () => {
      for (const scheme of SCHEMES) {
        for (const url of [
          `${scheme}://user:${password}@127.0.0.1:1`,
          `${scheme}://:${password}@127.0.0.1`,
          `${scheme}://user:${password}@[bad`,
        ]) {
          const shown = [redactUrl(url)];
          try {
            settingsFromEnv({ AMQP_URL: url });
            parseBrokerUrl(url);
          } catch (error) {
            shown.push(JSON.stringify(error, Object.getOwnPropertyNames(error)));
          }
          for (const text of shown) {
            expect(text).not.toContain('hunter');
            expect(text).not.toContain('twoPW');
          }
        }
      }
    });
  }
});

describe('URLs', () => {
  it('redacts passwords', () => {
    expect(redactUrl('amqp://guest:s3cret@localhost:5672/')).toBe(
      'amqp://guest:***@localhost:5672/',
    );
    expect(redactUrl('redis://:s3cret@localhost:6379')).not.toContain('s3cret');
    expect(redactUrl('nats://localhost:4222')).toBe('nats://localhost:4222');
  });

  it('parses memory URLs with and without a name', () => {
    expect(parseBrokerUrl('memory://').protocol).toBe('memory:');
    expect(parseBrokerUrl('memory://demo').hostname).toBe('demo');
  });

  it('maps each scheme to its adapter package', () => {
    expect(adapterPackageOf('amqp:')).toBe('@teal/amq-amqp');
    expect(adapterPackageOf('amqps:')).toBe('@teal/amq-amqp');
    expect(adapterPackageOf('redis:')).toBe('@teal/amq-redis-streams');
    expect(adapterPackageOf('rediss:')).toBe('@teal/amq-redis-streams');
    expect(adapterPackageOf('redis+sentinel:')).toBe('@teal/amq-redis-streams');
    expect(adapterPackageOf('rediss+sentinel:')).toBe('@teal/amq-redis-streams');
    expect(adapterPackageOf('nats:')).toBe('@teal/amq-nats');
    expect(adapterPackageOf('tls:')).toBe('@teal/amq-nats');
    expect(adapterPackageOf('http:')).toBeUndefined();
  });

  it('refuses an unknown scheme, naming the setting and the schemes it takes', async () => {
    await expect(connect({ url: 'kafka://broker:9092' })).rejects.toThrow(
      /unsupported URL scheme kafka:.*memory:, amqp:/,
    );
    await expect(connect({ url: 'not a url' })).rejects.toBeInstanceOf(AMQSettingsError);
  });
});

describe('settings helpers for adapters', () => {
  const spec = { retentionMs: [300_000, 1_000, 3_600_000], buckets: [16, 1, 1_024] } as const;

  it('takes the option, else the URL parameter, else the default', () => {
    const url = adapterUrlOf('redis://h/0?buckets=32', '@teal/x', ['redis:']);
    expect(integerSettings('@teal/x', url, {}, spec)).toEqual({
      retentionMs: 300_000,
      buckets: 32,
    });
    expect(integerSettings('@teal/x', url, { buckets: 8 }, spec)).toEqual({
      retentionMs: 300_000,
      buckets: 8,
    });
  });

  it('names the option or the URL parameter out of bounds', () => {
    const url = adapterUrlOf('redis://h/0?buckets=0', '@teal/x', ['redis:']);
    expect(() => integerSettings('@teal/x', url, {}, spec)).toThrow(
      /buckets \(the buckets parameter of url\) must be an integer from 1 to 1024/,
    );
    const clean = adapterUrlOf('redis://h', '@teal/x', ['redis:']);
    expect(() => integerSettings('@teal/x', clean, { retentionMs: 1.5 }, spec)).toThrow(
      /retentionMs must be an integer/,
    );
    expect(() => adapterUrlOf('nats://h', '@teal/x', ['redis:', 'rediss:'])).toThrow(
      /url must be a redis: or rediss: URL, not nats:/,
    );
    expect(flagParameter('@teal/x', new URL('redis://h?cluster=true'), 'cluster')).toBe(true);
    expect(() => flagParameter('@teal/x', new URL('redis://h?cluster=yes'), 'cluster')).toThrow(
      /cluster parameter of url must be true or false/,
    );
  });

  it('reads several comma-separated hosts as seeds sharing credentials, path and query', () => {
    const seeds = seedUrlsOf('amqp://u:p%40ss@h1:5701,h2,[::1]:5703/vh?heartbeat=5', '@teal/x', [
      'amqp:',
    ]);
    expect(seeds.map(String)).toEqual([
      'amqp://u:p%40ss@h1:5701/vh?heartbeat=5',
      'amqp://u:p%40ss@h2/vh?heartbeat=5',
      'amqp://u:p%40ss@[::1]:5703/vh?heartbeat=5',
    ]);
    expect(seedUrlsOf('amqp://h1:5701', '@teal/x', ['amqp:']).map(String)).toEqual([
      'amqp://h1:5701',
    ]);
    expect(parseSeedUrls('nats://a:4301,b:4302').map((url) => url.port)).toEqual(['4301', '4302']);
    // Past the authority, commas are the path's or the query's.
    expect(parseSeedUrls('amqp://h/a,b?x=1,2')).toHaveLength(1);
    for (const bad of ['amqp://u:SECRETPW@h1,,h2', 'amqp://u:SECRETPW@h1,h2:port']) {
      const call = () => seedUrlsOf(bad, '@teal/x', ['amqp:']);
      expect(call).toThrow(AMQSettingsError);
      expect(call).not.toThrow(/SECRETPW/);
    }
    expect(() => seedUrlsOf('redis://h1,h2', '@teal/x', ['amqp:'])).toThrow(
      /amqp: URL, not redis:/,
    );
  });

  it('lets connect() and settingsFromEnv() take a URL of several hosts', async () => {
    expect(settingsFromEnv({ AMQP_URL: 'amqp://h1:5701,h2:5702' }).url).toBe(
      'amqp://h1:5701,h2:5702',
    );
    await expect(connect({ url: 'nope://h1:1,h2:2' })).rejects.toThrow(
      /unsupported URL scheme nope:/,
    );
  });

  it('parses URLs that name several seed hosts, with the first host in the URL', () => {
    const { url, hosts } = parseSeedUrl('nats://u:p,w@h1:4301,h2,[::1]:4303/x?y=1#z');
    expect(hosts).toEqual([
      { hostname: 'h1', port: '4301' },
      { hostname: 'h2', port: '' },
      { hostname: '[::1]', port: '4303' },
    ]);
    expect(url.href).toBe('nats://u:p,w@h1:4301/x?y=1#z');
    expect(parseSeedUrl('redis://h:6379/0').hosts).toEqual([{ hostname: 'h', port: '6379' }]);
    for (const bad of [
      'redis://:s3cret@h1,,h2',
      'redis://:s3cret@h1,h 2',
      'redis://:s3cret@h1,:7',
    ]) {
      expect(() => parseSeedUrl(bad)).toThrow(AMQSettingsError);
      expect(() => parseSeedUrl(bad)).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
      );
    }
  });
});
