import { callbackMessage, openIDCIBACallbackMessage, routingKeyOf } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from '../context';
import { Inbox, randomKey } from '../helpers';

export function isolationSuite(suite: SuiteContext): void {
  describe('fan-out and isolation', () => {
    it('gives each of three handlers bound to a key its own copy, in order', async () => {
      const state = randomKey('fanout');
      const inboxes = await Promise.all(
        [1, 2, 3].map(async () => {
          const handler = await suite.handler();
          const inbox = new Inbox(handler);
          await handler.bindCallbackState(state);
          return inbox;
        }),
      );
      const sender = await suite.handler();
      for (let i = 0; i < 10; i++) {
        await sender.send(callbackMessage({ url: `https://x.test/cb?i=${i}`, state }));
      }
      for (const inbox of inboxes) {
        const messages = await inbox.receive(10);
        expect(messages.map((m) => (m.kind === 'callback' ? m.url : ''))).toEqual(
          Array.from({ length: 10 }, (_, i) => `https://x.test/cb?i=${i}`),
        );
        await inbox.settle(10);
      }
    });

    it('keeps keys apart: a handler sees only its own keys', async () => {
      const [a, b] = [randomKey('a'), randomKey('b')];
      const [handlerA, handlerB] = [await suite.handler(), await suite.handler()];
      const [inboxA, inboxB] = [new Inbox(handlerA), new Inbox(handlerB)];
      await handlerA.bindCallbackState(a);
      await handlerB.bindCallbackState(b);
      await handlerA.send(callbackMessage({ url: 'https://x.test/b', state: b }));
      await handlerB.send(callbackMessage({ url: 'https://x.test/a', state: a }));
      expect((await inboxA.receive(1)).map(routingKeyOf)).toEqual([a]);
      expect((await inboxB.receive(1)).map(routingKeyOf)).toEqual([b]);
      await inboxA.settle(1);
      await inboxB.settle(1);
    });

    it('keeps exchanges apart: one key on two exchanges', async () => {
      const key = randomKey('shared');
      const [callbacks, ciba] = [await suite.handler(), await suite.handler()];
      const [callbackInbox, cibaInbox] = [new Inbox(callbacks), new Inbox(ciba)];
      await callbacks.bindCallbackState(key);
      await ciba.bindOpenIDCIBARequestIdentifier(key);
      await callbacks.send(openIDCIBACallbackMessage({ requestId: key }));
      await ciba.send(callbackMessage({ url: 'https://x.test/cb', state: key }));
      expect((await callbackInbox.receive(1))[0]?.kind).toBe('callback');
      expect((await cibaInbox.receive(1))[0]?.kind).toBe('openid_ciba_callback');
      await callbackInbox.settle(1);
      await cibaInbox.settle(1);
    });

    it('keeps exchange prefixes apart completely', async () => {
      const key = randomKey('prefixed');
      const [prefixA, prefixB] = [suite.prefix(), suite.prefix()];
      const handlerA = await suite.handler({ exchangePrefix: prefixA });
      const handlerB = await suite.handler({ exchangePrefix: prefixB });
      const [inboxA, inboxB] = [new Inbox(handlerA), new Inbox(handlerB)];
      await handlerA.bindCallbackState(key);
      await handlerB.bindCallbackState(key);
      await handlerA.send(callbackMessage({ url: 'https://x.test/a', state: key }));
      const [received] = await inboxA.receive(1);
      expect(received).toMatchObject({ url: 'https://x.test/a' });
      await handlerB.send(callbackMessage({ url: 'https://x.test/b', state: key }));
      expect((await inboxB.receive(1))[0]).toMatchObject({ url: 'https://x.test/b' });
      await inboxA.settle(1);
      await inboxB.settle(1);
    });

    it('unbinding in one handler leaves another bound to the same key alone', async () => {
      const state = randomKey('shared');
      const [leaving, staying] = [await suite.handler(), await suite.handler()];
      const [leavingInbox, stayingInbox] = [new Inbox(leaving), new Inbox(staying)];
      await leaving.bindCallbackState(state);
      await staying.bindCallbackState(state);
      await leaving.unbindCallbackState(state);
      await leaving.send(callbackMessage({ url: 'https://x.test/cb', state }));
      await stayingInbox.receive(1);
      await stayingInbox.settle(1);
      await leavingInbox.settle(0);
    });
  });
}
