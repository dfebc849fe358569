import { describe, expect, it } from 'vitest';
import {
  AMQSettingsError,
  adapterPackageOf,
  connect,
  parseBrokerUrl,
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
