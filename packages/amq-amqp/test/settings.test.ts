import { AMQSettingsError } from '@teal/amq-core';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../src/settings';

describe('amqp settings', () => {
  it('turns heartbeats on by default and lets the option override the URL', () => {
    const base = 'amqp://guest:guest@127.0.0.1:5672';
    expect(new URL(resolveSettings({ url: base }).urls[0]!).searchParams.get('heartbeat')).toBe(
      '10',
    );
    const fromUrl = resolveSettings({ url: `${base}/?heartbeat=7` });
    expect(new URL(fromUrl.urls[0]!).searchParams.get('heartbeat')).toBe('7');
    const fromOption = resolveSettings({ url: `${base}/?heartbeat=7`, heartbeatSeconds: 0 });
    expect(new URL(fromOption.urls[0]!).searchParams.get('heartbeat')).toBe('0');
  });

  it('names the queue and the connection after the prefix and a random handler id', () => {
    const one = resolveSettings({ url: 'amqp://h', exchangePrefix: 'app.' });
    const other = resolveSettings({ url: 'amqp://h', exchangePrefix: 'app.' });
    expect(one.handlerId).toMatch(/^[0-9a-f]{12}$/);
    expect(one.handlerId).not.toBe(other.handlerId);
    expect(one.queueName).toBe(`teal.app..${one.handlerId}`);
    expect(one.connectionName).toBe(`teal-amqp/app./${one.handlerId}`);
    const bare = resolveSettings({ url: 'amqp://h', connectionName: 'listener' });
    expect(bare.queueName).toBe(`teal.-.${bare.handlerId}`);
    expect(bare.connectionName).toBe(`listener/-/${bare.handlerId}`);
  });

  it('keeps queue names within the 255 bytes AMQP allows, whatever the prefix', () => {
    const settings = resolveSettings({ url: 'amqp://h', exchangePrefix: '☃'.repeat(200) });
    expect(Buffer.byteLength(settings.queueName)).toBeLessThanOrEqual(255);
  });

  it('reads its settings from the URL, options first', () => {
    const url =
      'amqp://h/vhost?queueExpiresMs=15000&prefetch=32&connectionName=web&frameMax=8192&queueLingerMs=0&reconnectGraceMs=3000';
    const settings = resolveSettings({ url, prefetch: 64 });
    expect(settings).toMatchObject({
      queueExpiresMs: 15_000,
      prefetch: 64,
      queueLingerMs: 0,
      reconnectGraceMs: 3_000,
    });
    expect(settings.connectionName).toMatch(/^web\/-\//);
    // amqplib gets its own parameters only.
    const forAmqplib = new URL(settings.urls[0]!);
    expect([...forAmqplib.searchParams.keys()].sort()).toEqual(['frameMax', 'heartbeat']);
    expect(forAmqplib.pathname).toBe('/vhost');
    expect(() => resolveSettings({ url: 'amqp://h?prefetch=lots' })).toThrow(/prefetch/);
    expect(() => resolveSettings({ url: 'amqp://h?heartbeat=-3' })).toThrow(/heartbeat/);
  });

  it('uses the documented defaults', () => {
    const settings = resolveSettings({ url: 'amqps://h' });
    expect(settings).toMatchObject({
      queueExpiresMs: 60_000,
      prefetch: 256,
      queueLingerMs: 1_000,
      reconnectGraceMs: 10_000,
      exchangePrefix: '',
      queueType: 'classic',
    });
  });

  it('takes several nodes of a cluster, each with the credentials, vhost and parameters', () => {
    const settings = resolveSettings({
      url: 'amqp://u:p%2Fw@127.0.0.1:5701,127.0.0.1:5702,node3/vh?prefetch=9&heartbeat=4&frameMax=8192',
    });
    expect(settings.nodes).toEqual(['127.0.0.1:5701', '127.0.0.1:5702', 'node3:5672']);
    expect(settings.urls).toEqual([
      'amqp://u:p%2Fw@127.0.0.1:5701/vh?heartbeat=4&frameMax=8192',
      'amqp://u:p%2Fw@127.0.0.1:5702/vh?heartbeat=4&frameMax=8192',
      'amqp://u:p%2Fw@node3/vh?heartbeat=4&frameMax=8192',
    ]);
    expect(settings.prefetch).toBe(9);
    expect(resolveSettings({ url: 'amqps://h' }).nodes).toEqual(['h:5671']);
    const bad = () => resolveSettings({ url: 'amqp://u:SECRETPW@h1,,h3' });
    expect(bad).toThrow(AMQSettingsError);
    expect(bad).not.toThrow(/SECRETPW/);
  });

  it('declares quorum queues when asked, in code or in the URL', () => {
    expect(resolveSettings({ url: 'amqp://h?queueType=quorum' }).queueType).toBe('quorum');
    expect(resolveSettings({ url: 'amqp://h', queueType: 'quorum' }).queueType).toBe('quorum');
    expect(
      resolveSettings({ url: 'amqp://h?queueType=quorum', queueType: 'classic' }).queueType,
    ).toBe('classic');
    expect(new URL(resolveSettings({ url: 'amqp://h?queueType=quorum' }).urls[0]!).search).toBe(
      '?heartbeat=10',
    );
    expect(() => resolveSettings({ url: 'amqp://h?queueType=stream' })).toThrow(
      /queueType parameter of url must be classic or quorum/,
    );
    expect(() => resolveSettings({ url: 'amqp://h', queueType: 'mirrored' as 'quorum' })).toThrow(
      /queueType must be classic or quorum/,
    );
  });

  it('rejects bad values with an error naming the setting, never the password', () => {
    const bad = [
      [{ prefetch: 70_000 }, 'prefetch'],
      [{ queueExpiresMs: 0 }, 'queueExpiresMs'],
      [{ heartbeatSeconds: 1.5 }, 'heartbeatSeconds'],
      [{ connectionName: '' }, 'connectionName'],
      [{ queueLingerMs: -1 }, 'queueLingerMs'],
      [{ reconnectGraceMs: Number.NaN }, 'reconnectGraceMs'],
    ] as const;
    for (const [options, setting] of bad) {
      const call = () => resolveSettings({ url: 'amqp://u:SECRETPW@h', ...options });
      expect(call).toThrow(AMQSettingsError);
      expect(call).toThrow(setting);
      expect(call).not.toThrow(/SECRETPW/);
    }
    expect(() => resolveSettings({ url: 'nats://u:SECRETPW@h' })).toThrow(/amqp: or amqps:/);
    expect(() => resolveSettings({ url: 'amqp://u:SECRETPW@h:bad port' })).not.toThrow(/SECRETPW/);
  });
});
