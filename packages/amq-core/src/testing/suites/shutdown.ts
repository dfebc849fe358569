import { AMQClosedError } from '@teal/amq-core';
import { callbackMessage } from '@teal/messages';
import { afterEach, describe, expect, it } from 'vitest';
import type { HandlerOptions } from '../../options';
import type { SuiteContext } from '../context';
import { FaultProxy } from '../fault-proxy';
import { randomKey, recordLogs, sleep, waitFor } from '../helpers';
import { skipReason, urlsOf } from './support';

export function shutdownSuite(suite: SuiteContext): void {
  const url = suite.target.url;
  const lacksUrl = skipReason(url === undefined, 'the target gives no broker url to proxy');
  const proxies: FaultProxy[] = [];
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((proxy) => proxy.stop()));
  });
  const proxied = async (options: HandlerOptions = {}) => {
    const proxy = await FaultProxy.start(url!);
    proxies.push(proxy);
    const handler = await suite.handler({ ...options, url: proxy.urlFor(url!) } as HandlerOptions);
    return { proxy, handler };
  };

  describe('cancelling, draining and connection events', () => {
    it('rejects a send whose signal already fired, and never delivers it', async () => {
      const receiver = await suite.handler();
      const seen = urlsOf(receiver);
      const state = randomKey('aborted-send');
      await receiver.bind('callback', state);
      const reason = new Error('the request was cancelled');
      await expect(
        receiver.send(callbackMessage({ url: 'https://x.test/cb?aborted', state }), {
          signal: AbortSignal.abort(reason),
        }),
      ).rejects.toBe(reason);
      await receiver.send(callbackMessage({ url: 'https://x.test/cb?after', state }));
      await waitFor(() => seen.includes('https://x.test/cb?after'), 'the message after');
      await sleep(300);
      expect(seen).toEqual(['https://x.test/cb?after']);
    });

    it.skipIf(lacksUrl)(
      `rejects a send aborted during an outage at once, and never delivers it after${lacksUrl}`,
      async () => {
        const receiver = await suite.handler();
        const seen = urlsOf(receiver);
        const state = randomKey('abort-outage');
        await receiver.bind('callback', state);
        const { proxy, handler: sender } = await proxied({ sendTimeoutMs: 20_000 });
        proxy.cut();
        const controller = new AbortController();
        const send = sender.send(callbackMessage({ url: 'https://x.test/cb?cut', state }), {
          signal: controller.signal,
        });
        await sleep(200);
        const started = performance.now();
        controller.abort(new Error('gave up'));
        await expect(send).rejects.toThrow('gave up');
        expect(performance.now() - started).toBeLessThan(500);
        proxy.restore();
        await sender.send(callbackMessage({ url: 'https://x.test/cb?restored', state }));
        await waitFor(() => seen.includes('https://x.test/cb?restored'), 'the message after');
        await sleep(1_000);
        expect(seen).not.toContain('https://x.test/cb?cut');
      },
      60_000,
    );

    it('drains on close({ drainTimeoutMs }): received messages reach the callback, waiters and iterators end with AMQClosedError', async () => {
      const handler = await suite.handler();
      const state = randomKey('drain');
      const handled: string[] = [];
      let first = true;
      let releaseFirst = () => {};
      const firstStarted = new Promise<void>((started) => {
        handler.callback = async (message) => {
          if (message.kind !== 'callback' || message.state !== state) return;
          if (first) {
            first = false;
            started();
            await new Promise<void>((resolve) => {
              releaseFirst = resolve;
            });
          }
          await sleep(5);
          handled.push(message.url);
        };
      });
      await handler.bind('callback', state);
      const pending = handler.waitFor('callback', randomKey('never'));
      const subscription = handler.subscribe('callback', randomKey('never-either'));
      const ended = subscription.next();
      // Observed at once: both reject during close(), which may wait for broker I/O.
      pending.catch(() => {});
      ended.catch(() => {});
      const sender = await suite.handler();
      const urls = Array.from({ length: 20 }, (_, i) => `https://x.test/cb?${i}`);
      for (const url of urls) await sender.send(callbackMessage({ url, state }));
      await firstStarted;
      // All of them received, one stuck in the callback, the others waiting behind it.
      await sleep(300);
      const closing = handler.close({ drainTimeoutMs: 20_000 });
      await sleep(100);
      releaseFirst();
      await closing;
      expect(handled).toEqual(urls);
      await expect(pending).rejects.toBeInstanceOf(AMQClosedError);
      await expect(ended).rejects.toBeInstanceOf(AMQClosedError);
    }, 60_000);

    it('stops draining at drainTimeoutMs and says how many messages it left', async () => {
      const { logger, records } = recordLogs();
      const handler = await suite.handler({ logger });
      const state = randomKey('drain-timeout');
      let calls = 0;
      handler.callback = () => {
        calls++;
        return new Promise(() => {});
      };
      await handler.bind('callback', state);
      const sender = await suite.handler();
      for (let i = 0; i < 10; i++) {
        await sender.send(callbackMessage({ url: `https://x.test/cb?${i}`, state }));
      }
      await waitFor(() => calls === 1, 'the stuck callback');
      await sleep(300);
      const started = performance.now();
      await handler.close({ drainTimeoutMs: 200 });
      expect(performance.now() - started).toBeLessThan(10_000);
      const warning = records.find((record) => record.message.includes('drainTimeoutMs'));
      expect(warning?.fields?.messages).toBeGreaterThan(0);
      expect(calls).toBe(1);
    }, 30_000);

    it.skipIf(lacksUrl)(
      `emits disconnected when its connection is cut, then connected and reconnected${lacksUrl}`,
      async () => {
        const { proxy, handler } = await proxied();
        await handler.bind('callback', randomKey('events'));
        const events: string[] = [];
        handler.on('disconnected', () => events.push('disconnected'));
        handler.on('connected', () => events.push('connected'));
        handler.on('reconnected', () => events.push('reconnected'));
        proxy.cut();
        await waitFor(() => events.includes('disconnected'), 'a disconnected event', 30_000);
        expect(handler.isConnected).toBe(false);
        proxy.restore();
        await waitFor(() => events.includes('reconnected'), 'a reconnected event', 30_000);
        expect(handler.isConnected).toBe(true);
        expect(events).toEqual(['disconnected', 'connected', 'reconnected']);
      },
      60_000,
    );
  });
}
