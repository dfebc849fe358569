import { callbackMessage, type Message } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from '../context';
import { Inbox, randomKey, waitFor } from '../helpers';

const urlOf = (message: Message) => (message.kind === 'callback' ? message.url : '');

export function orderingSuite(suite: SuiteContext): void {
  describe('ordering and concurrency', () => {
    it('delivers 1,000 messages of one key from one sender in send order', async () => {
      const state = randomKey('order');
      const receiver = await suite.handler();
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState(state);
      const sender = await suite.handler();
      const urls = Array.from({ length: 1_000 }, (_, i) => `https://x.test/cb?seq=${i}`);
      // Issued without waiting: the handler pipelines them and must keep their order.
      await Promise.all(urls.map((url) => sender.send(callbackMessage({ url, state }))));
      const messages = await inbox.receive(1_000, 60_000);
      expect(messages.map(urlOf)).toEqual(urls);
      await inbox.settle(1_000);
    });

    it('delivers 100 keys × 10 messages from 4 concurrent senders exactly once to the right handler', async () => {
      const keys = Array.from({ length: 100 }, (_, i) => randomKey(`k${i}`));
      const receivers = await Promise.all([0, 1, 2, 3, 4].map(() => suite.handler()));
      const seen = new Map<string, string[]>();
      const misrouted: string[] = [];
      receivers.forEach((receiver, index) => {
        receiver.callback = (message) => {
          if (message.kind !== 'callback') return;
          if (keys.indexOf(message.state) % receivers.length !== index)
            misrouted.push(message.state);
          const urls = seen.get(message.state) ?? [];
          urls.push(message.url);
          seen.set(message.state, urls);
        };
      });
      await Promise.all(
        keys.map((key, i) => receivers[i % receivers.length]!.bindCallbackState(key)),
      );
      const senders = await Promise.all([0, 1, 2, 3].map(() => suite.handler()));
      await Promise.all(
        senders.map(async (sender, s) => {
          const sends: Promise<void>[] = [];
          for (let round = 0; round < 10; round++) {
            for (let k = s; k < keys.length; k += senders.length) {
              const url = `https://x.test/cb?sender=${s}&round=${round}`;
              sends.push(sender.send(callbackMessage({ url, state: keys[k]! })));
            }
          }
          await Promise.all(sends);
        }),
      );
      const total = () => [...seen.values()].reduce((sum, urls) => sum + urls.length, 0);
      await waitFor(() => total() >= 1_000, `1,000 deliveries (got ${total()})`, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(misrouted).toEqual([]);
      expect(total()).toBe(1_000);
      for (const [k, key] of keys.entries()) {
        const sender = k % senders.length;
        const expected = Array.from(
          { length: 10 },
          (_, round) => `https://x.test/cb?sender=${sender}&round=${round}`,
        );
        expect(seen.get(key)).toEqual(expected);
      }
    });
  });
}
