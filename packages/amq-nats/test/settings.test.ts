import { AMQError, AMQSettingsError } from '@teal/amq-core';
import { describe, expect, it } from 'vitest';
import { Coalescer } from '../src/connection-retry';
import { connect, NatsConnectionError } from '../src/index';
import { resolveSettings } from '../src/settings';

describe('settings', () => {
  it('defaults to core mode on the URL host, with credentials from the URL', () => {
    const settings = resolveSettings({ url: 'nats://alice:s3cret@broker.test:4333' });
    expect(settings).toMatchObject({
      mode: 'core',
      subjectRoot: 'teal',
      streamName: 'TEAL__',
      streamMaxAgeMs: 3_600_000,
    });
    expect(settings.connection).toMatchObject({
      servers: 'broker.test:4333',
      user: 'alice',
      pass: 's3cret',
    });
    expect(settings.server).not.toContain('s3cret');
    expect(resolveSettings({ url: 'nats://tok3n@h' }).connection).toMatchObject({
      token: 'tok3n',
      servers: 'h:4222',
    });
    expect(resolveSettings({ url: 'tls://h:4443' }).connection).toMatchObject({ tls: {} });
  });

  it('reads the adapter settings from the URL query; options set in code win', () => {
    const url =
      'nats://h?mode=jetstream&streamMaxAgeMs=60000&streamMaxBytes=1048576&streamStorage=memory';
    expect(resolveSettings({ url, exchangePrefix: 'app.' })).toMatchObject({
      mode: 'jetstream',
      streamName: 'TEAL_app_2E',
      streamMaxAgeMs: 60_000,
      streamMaxBytes: 1_048_576,
      streamStorage: 'memory',
      duplicateWindowMs: 60_000,
    });
    expect(resolveSettings({ url, mode: 'core' }).mode).toBe('core');
  });

  it('names the setting at fault, never the password', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ url: 'nats://u:pw@h?mode=durable' }, 'mode'],
      [{ url: 'nats://u:pw@h', streamMaxBytes: -1 }, 'streamMaxBytes'],
      [{ url: 'nats://u:pw@h?streamMaxAgeMs=soon' }, 'url'],
      [{ url: 'nats://u:pw@h', streamMaxAgeMs: 1.5 }, 'streamMaxAgeMs'],
      [{ url: 'nats://u:pw@h?streamReplicas=6' }, 'url'],
      [{ url: 'nats://u:pw@h', subjectRoot: 'a.*' }, 'subjectRoot'],
      [{ url: 'nats://u:pw@h', streamName: 'a.b' }, 'streamName'],
      [{ url: 'nats://u:pw@h', exchangePrefix: '€'.repeat(200) }, 'exchangePrefix'],
      [{ url: 'amqp://u:pw@h' }, 'url'],
    ];
    for (const [options, setting] of cases) {
      let error: unknown;
      try {
        resolveSettings(options as never);
      } catch (caught) {
        error = caught;
      }
      expect(error, setting).toBeInstanceOf(AMQSettingsError);
      expect((error as AMQSettingsError).setting).toBe(setting);
      expect((error as Error).message).not.toContain('pw');
    }
  });

  it('fails to connect with a NatsConnectionError that names the server but not the password', async () => {
    const connecting = connect({
      url: 'nats://u:hunter2@127.0.0.1:1',
      connectionOptions: { timeout: 2_000 },
    });
    await expect(connecting).rejects.toBeInstanceOf(NatsConnectionError);
    await expect(connecting).rejects.toBeInstanceOf(AMQError);
    await expect(connecting).rejects.toThrow(/cannot connect to nats:\/\/127\.0\.0\.1:1/);
    await expect(connecting).rejects.not.toThrow(/hunter2/);
  });
});

describe('coalescer', () => {
  it('gives a caller that arrives during a run the next run, shared with the others', async () => {
    const releases: Array<() => void> = [];
    let runs = 0;
    const coalescer = new Coalescer(async () => {
      const run = ++runs;
      await new Promise<void>((resolve) => releases.push(resolve));
      return run;
    });
    const first = coalescer.run();
    const [second, third] = [coalescer.run(), coalescer.run()];
    expect(runs).toBe(1);
    releases.shift()?.();
    expect(await first).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(runs).toBe(2);
    releases.shift()?.();
    expect(await Promise.all([second, third])).toEqual([2, 2]);
  });
});
