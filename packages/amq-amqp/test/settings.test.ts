import { AMQSettingsError } from '@teal/amq-core';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../src/settings';

describe('amqp settings', () => {
  it('turns heartbeats on by default and lets the option override the URL', () => {
    const base = 'amqp://guest:guest@127.0.0.1:5672';
    expect(new URL(resolveSettings({ url: base }).url).searchParams.get('heartbeat')).toBe('10');
    const fromUrl = resolveSettings({ url: `${base}/?heartbeat=7` });
    expect(new URL(fromUrl.url).searchParams.get('heartbeat')).toBe('7');
    const fromOption = resolveSettings({ url: `${base}/?heartbeat=7`, heartbeatSeconds: 0 });
    expect(new URL(fromOption.url).searchParams.get('heartbeat')).toBe('0');
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
    const forAmqplib = new URL(settings.url);
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
    });
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
