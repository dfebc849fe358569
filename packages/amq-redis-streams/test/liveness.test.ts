import type { AMQHandler } from '@teal/amq-core';
import { describeWithBroker, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { afterEach, expect, it } from 'vitest';
import { connect } from '../src/index';
import { BlackholeProxy } from './support/blackhole';
import { REDIS_URL, randomPrefix, redisUnavailable } from './support/redis';

describeWithBroker('redis-streams on a link that goes silent', await redisUnavailable(), () => {
  const handlers: AMQHandler[] = [];
  const proxies: BlackholeProxy[] = [];
  afterEach(async () => {
    await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
    await Promise.allSettled(proxies.splice(0).map((proxy) => proxy.stop()));
  });

  it('notices, reconnects on its own and delivers what was sent meanwhile, once', async () => {
    const target = new URL(REDIS_URL);
    const proxy = await BlackholeProxy.start({
      host: target.hostname,
      port: Number(target.port || 6379),
    });
    proxies.push(proxy);
    const handler = await connect({
      url: proxy.url,
      exchangePrefix: randomPrefix(),
      livenessMs: 1_000,
      blockMs: 1_000,
      sendTimeoutMs: 30_000,
    });
    handlers.push(handler);
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
    proxy.silenceExisting();
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
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen).toEqual([
      'https://x.test/cb?before',
      'https://x.test/cb?during',
      'https://x.test/cb?after',
    ]);
    expect(errors.length).toBeGreaterThan(0);
    expect(String(errors[0])).toMatch(/Socket timeout/);
  }, 60_000);

  it('notices a silent link while idle, with no command of its own pending', async () => {
    const target = new URL(REDIS_URL);
    const proxy = await BlackholeProxy.start({
      host: target.hostname,
      port: Number(target.port || 6379),
    });
    proxies.push(proxy);
    const handler = await connect({
      url: proxy.url,
      exchangePrefix: randomPrefix(),
      livenessMs: 1_000,
    });
    handlers.push(handler);
    handler.onError = () => {};
    const acceptedBefore = proxy.accepted;
    proxy.silenceExisting();
    await waitFor(() => !handler.isConnected, 'the handler to notice the silence', 15_000);
    await waitFor(() => handler.isConnected, 'the handler to reconnect on its own', 15_000);
    expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
  }, 60_000);
});
