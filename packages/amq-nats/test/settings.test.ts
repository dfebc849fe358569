import type { ServerInfo } from '@nats-io/transport-node';
import { AMQError, AMQSettingsError } from '@teal/amq-core';
import { describe, expect, it } from 'vitest';
import { Coalescer } from '../src/connection-retry';
import { connect, NatsConnectionError } from '../src/index';
import { resolveSettings } from '../src/settings';
import { replicasOf } from '../src/stream';

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
      servers: ['broker.test:4333'],
      user: 'alice',
      pass: 's3cret',
    });
    expect(settings.server).not.toContain('s3cret');
    expect(resolveSettings({ url: 'nats://tok3n@h' }).connection).toMatchObject({
      token: 'tok3n',
      servers: ['h:4222'],
    });
    expect(resolveSettings({ url: 'tls://h:4443' }).connection).toMatchObject({ tls: {} });
  });

  it('takes several servers as comma-separated hosts, credentials and query kept', () => {
    const settings = resolveSettings({
      url: 'nats://alice:p%40ss,w@h1:4301,h2,[::1]:4303/?mode=jetstream&streamReplicas=3',
    });
    expect(settings.connection).toMatchObject({
      servers: ['h1:4301', 'h2:4222', '[::1]:4303'],
      user: 'alice',
      pass: 'p@ss,w',
    });
    expect(settings).toMatchObject({ mode: 'jetstream', streamReplicas: 3 });
    expect(settings.server).toBe('nats://h1:4301,h2:4222,[::1]:4303');
    expect(resolveSettings({ url: 'nats://h1' }).streamReplicas).toBe(0);
    for (const url of [
      'nats://u:pw@h1,,h2',
      'nats://u:pw@h1,h2:99999',
      'nats://u:pw@h1, h2',
      'nats://h1,h2:x',
    ]) {
      let error: unknown;
      try {
        resolveSettings({ url });
      } catch (caught) {
        error = caught;
      }
      expect(error, url).toBeInstanceOf(AMQSettingsError);
      expect((error as AMQSettingsError).setting, url).toBe('url');
      expect((error as Error).message, url).not.toContain('pw');
    }
  });

  it('chooses 3 stream replicas on a cluster of three or more servers, 1 elsewhere, unless told', () => {
    const single = { server_name: 'a' } as ServerInfo;
    const cluster = (servers: number) =>
      ({
        cluster: 'c',
        connect_urls: Array.from({ length: servers }, (_, i) => `h${i}:4222`),
      }) as ServerInfo;
    expect(replicasOf(0, single)).toBe(1);
    expect(replicasOf(0, undefined)).toBe(1);
    expect(replicasOf(0, cluster(2))).toBe(1);
    expect(replicasOf(0, cluster(3))).toBe(3);
    expect(replicasOf(0, cluster(5))).toBe(3);
    expect(replicasOf(1, cluster(5))).toBe(1);
    expect(replicasOf(5, single)).toBe(5);
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
