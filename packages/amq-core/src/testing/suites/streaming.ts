import { type CallbackMessage, callbackMessage } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from '../context';
import { backlogOf, randomKey, sleep, transportOf, waitFor } from '../helpers';
import { bindingsOnBroker, eventually } from './support';

export function streamingSuite(suite: SuiteContext): void {
  describe('subscribe', () => {
    it('yields every message of its key in order until the loop breaks, then lets the key go', async () => {
      const handler = await suite.handler();
      const state = randomKey('stream');
      const subscription = handler.subscribe('callback', state);
      await subscription.bound;
      const sender = await suite.handler();
      const urls = Array.from({ length: 100 }, (_, i) => `https://x.test/cb?${i}`);
      const sent = Promise.all(urls.map((url) => sender.send(callbackMessage({ url, state }))));
      const received: string[] = [];
      for await (const message of subscription) {
        received.push(message.url);
        if (received.length === urls.length) break;
      }
      await sent;
      expect(received).toEqual(urls);
      await eventually(
        () => bindingsOnBroker(suite, handler),
        (bindings) => bindings.length === 0,
        'the key to be unbound',
      );
      // Ended: nothing more, even when the key is sent to again.
      await sender.send(callbackMessage({ url: 'https://x.test/cb?late', state }));
      expect(await subscription.next()).toEqual({ value: undefined, done: true });
    });

    it("ends with the signal's reason on abort", async () => {
      const handler = await suite.handler();
      const controller = new AbortController();
      const subscription = handler.subscribe('callback', randomKey('aborted'), {
        signal: controller.signal,
      });
      await subscription.bound;
      const next = subscription.next();
      const reason = new Error('shutting the page');
      controller.abort(reason);
      await expect(next).rejects.toBe(reason);
      expect(await subscription.next()).toEqual({ value: undefined, done: true });
    });

    it('holds at most highWaterMark messages for a loop that does not read, leaving the rest to the backlog rules', async () => {
      const count = 1_000;
      const handler = await suite.handler({ maxBacklog: 100 });
      const state = randomKey('hwm');
      const subscription = handler.subscribe('callback', state, { highWaterMark: 10 });
      await subscription.bound;
      const sender = await suite.handler({ sendTimeoutMs: 30_000 });
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          sender.send(callbackMessage({ url: `https://x.test/cb?${i}`, state })),
        ),
      );
      const backlog = backlogOf(handler);
      await sleep(500);
      // Delivery waits for the loop: what it has not taken waits in the bounded backlog.
      expect(backlog.messages).toBeLessThanOrEqual(100);
      const holdsBroker = transportOf(handler).appliesBackpressure === true;
      const received: number[] = [];
      const drained = (async () => {
        for await (const message of subscription as AsyncIterable<CallbackMessage>) {
          received.push(Number(new URL(message.url).search.slice(1)));
          if (received.length + backlog.overflowed >= count && backlog.messages === 0) break;
        }
      })();
      await waitFor(
        () => received.length + backlog.overflowed >= count,
        `${count} messages taken or counted as dropped`,
        60_000,
      );
      await subscription.return();
      await drained;
      expect(received).toEqual([...received].sort((a, b) => a - b));
      if (holdsBroker) expect(received.length).toBe(count);
    }, 90_000);
  });
}
