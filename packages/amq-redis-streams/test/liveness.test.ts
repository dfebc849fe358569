import { describeWithBroker, sleep, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import type { RedisStreamsConnectOptions } from '../src/index';
import { REDIS_URL, unavailable, useTestBed } from './support/broker';

describeWithBroker('redis-streams on a link that goes silent', unavailable, () => {
  const bed = useTestBed();

  /** A handler whose connections go through a proxy, with a liveness of 1 s. */
  const proxied = async (options: Partial<RedisStreamsConnectOptions> = {}) => {
    const proxy = await bed.proxy();
    const handler = await bed.connect({
      url: proxy.urlFor(REDIS_URL),
      livenessMs: 1_000,
      ...options,
    });
    return { proxy, handler };
  };

  it('notices, reconnects on its own and delivers what was sent meanwhile, once', async () => {
    const { proxy, handler } = await proxied({ blockMs: 1_000, sendTimeoutMs: 30_000 });
    const errors: unknown[] = [];
    handler.onError = (error) => errors.push(error);
    const seen: string[] = [];
    handler.callback = (message) => {
      if (message.kind === 'callback') seen.push(message.url);
    };
    await handler.bindCallbackState('silent');
    await handler.send(callbackMessage({ url: 'https://x.test/cb?before', state: 'silent' }));
    await waitFor(() => seen.length === 1, 'the message before');

    const acceptedBefore = proxy.accepted;
    // The links open now forward nothing, and are never closed; new ones pass: a NAT that forgot them.
    proxy.freeze({ newConnections: 'forward' });
    // Written into the silent link: it can only arrive if the handler replaces the link and resends.
    const during = handler.send(
      callbackMessage({ url: 'https://x.test/cb?during', state: 'silent' }),
    );
    await waitFor(() => !handler.isConnected, 'the handler to notice the silence', 15_000);
    await waitFor(() => handler.isConnected, 'the handler to reconnect on its own', 15_000);
    await during;
    expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
    await handler.send(callbackMessage({ url: 'https://x.test/cb?after', state: 'silent' }));
    await waitFor(() => seen.includes('https://x.test/cb?after'), 'the message after', 15_000);
    await sleep(300);
    expect(seen).toEqual([
      'https://x.test/cb?before',
      'https://x.test/cb?during',
      'https://x.test/cb?after',
    ]);
    expect(errors.length).toBeGreaterThan(0);
    expect(String(errors[0])).toMatch(/Socket timeout/);
  }, 60_000);

  it('notices a silent link while idle, with no command of its own pending', async () => {
    const { proxy, handler } = await proxied();
    handler.onError = () => {};
    const acceptedBefore = proxy.accepted;
    proxy.freeze({ newConnections: 'forward' });
    await waitFor(() => !handler.isConnected, 'the handler to notice the silence', 15_000);
    await waitFor(() => handler.isConnected, 'the handler to reconnect on its own', 15_000);
    expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
  }, 60_000);
});
