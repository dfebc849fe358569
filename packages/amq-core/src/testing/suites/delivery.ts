import { AMQRoutingKeyError, exchangeOf } from '@teal/amq-core/adapter';
import { callbackMessage, openIDCIBACallbackMessage, routingKeyOf } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import type { AMQHandler } from '../../types';
import type { SuiteContext } from '../context';
import { goldenMessages } from '../fixtures';
import { Inbox, randomKey } from '../helpers';
import { bindKey } from './keys';

export function deliverySuite(suite: SuiteContext): void {
  describe('delivery', () => {
    for (const { name, message } of goldenMessages()) {
      it(`round-trips the golden message ${name} with equal fields`, async () => {
        const receiver = await suite.handler();
        const inbox = new Inbox(receiver);
        await bindKey(receiver, exchangeOf(message), routingKeyOf(message));
        const sender = await suite.handler();
        await sender.send(message);
        const [received] = await inbox.receive(1);
        expect(received).toEqual(message);
        await inbox.settle(1);
      });
    }

    it('delivers what is sent after bind, and not what was sent before', async () => {
      const handler = await suite.handler();
      const inbox = new Inbox(handler);
      const state = randomKey('state');
      await handler.send(callbackMessage({ url: 'https://x.test/cb?n=before', state }));
      await handler.bindCallbackState(state);
      await handler.send(callbackMessage({ url: 'https://x.test/cb?n=after', state }));
      const [received] = await inbox.receive(1);
      expect(received).toMatchObject({ kind: 'callback', state, url: 'https://x.test/cb?n=after' });
      await inbox.settle(1);
    });

    it('delivers nothing for a key nobody bound', async () => {
      const handler = await suite.handler();
      const inbox = new Inbox(handler);
      const bound = randomKey('bound');
      await handler.bindCallbackState(bound);
      await handler.send(
        callbackMessage({ url: 'https://x.test/cb', state: randomKey('unbound') }),
      );
      await handler.send(callbackMessage({ url: 'https://x.test/sentinel', state: bound }));
      const [received] = await inbox.receive(1);
      expect(received).toMatchObject({ state: bound });
      await inbox.settle(1);
    });

    it('stops delivering a key once unbind resolves', async () => {
      const handler = await suite.handler();
      const inbox = new Inbox(handler);
      const [gone, kept] = [randomKey('gone'), randomKey('kept')];
      await handler.bindOpenIDCIBARequestIdentifier(gone);
      await handler.bindOpenIDCIBARequestIdentifier(kept);
      await handler.send(openIDCIBACallbackMessage({ requestId: gone }));
      await inbox.receive(1);
      await handler.unbindOpenIDCIBARequestIdentifier(gone);
      await handler.send(openIDCIBACallbackMessage({ requestId: gone }));
      await handler.send(openIDCIBACallbackMessage({ requestId: kept }));
      const messages = await inbox.receive(2);
      expect(messages.map(routingKeyOf)).toEqual([gone, kept]);
      await inbox.settle(2);
    });

    it('binds again after an unbind', async () => {
      const handler = await suite.handler();
      const inbox = new Inbox(handler);
      const domain = `${randomKey('again')}.biapi.pro`;
      await handler.bindPowensDomainWebhooks(domain);
      await handler.unbindPowensDomainWebhooks(domain);
      await handler.bindPowensDomainWebhooks(domain);
      await handler.send(powens(domain));
      await inbox.receive(1);
      await inbox.settle(1);
    });

    it('delivers once to a key bound twice, sequentially or concurrently', async () => {
      const handler = await suite.handler();
      const inbox = new Inbox(handler);
      const [first, second] = [randomKey('twice'), randomKey('concurrent')];
      await handler.bindCallbackState(first);
      await handler.bindCallbackState(first);
      await Promise.all([handler.bindCallbackState(second), handler.bindCallbackState(second)]);
      for (const state of [first, second, first]) {
        await handler.send(callbackMessage({ url: 'https://x.test/cb', state }));
      }
      await inbox.receive(3);
      await inbox.settle(3);
    });

    it('rejects empty keys in every bind, unbind and send', async () => {
      const handler = await suite.handler();
      const calls: Array<(handler: AMQHandler) => Promise<void>> = [
        (h) => h.bindCallbackState(''),
        (h) => h.unbindCallbackState(''),
        (h) => h.bindOpenIDCIBARequestIdentifier(''),
        (h) => h.unbindOpenIDCIBARequestIdentifier(''),
        (h) => h.bindPowensDomainWebhooks(''),
        (h) => h.unbindPowensDomainWebhooks(''),
        (h) => h.send(callbackMessage({ url: 'https://x.test/cb', state: '' })),
      ];
      for (const call of calls) {
        await expect(call(handler)).rejects.toBeInstanceOf(AMQRoutingKeyError);
      }
      await expect(handler.bindCallbackState('')).rejects.toThrow(
        /state must be a non-empty string/,
      );
    });

    it('rejects a message of the wrong shape before it reaches the broker', async () => {
      const handler = await suite.handler();
      const broken = { ...callbackMessage({ url: 'u', state: 's' }), state: 42 };
      await expect(handler.send(broken as never)).rejects.toThrow(/state/);
    });
  });
}

function powens(domain: string) {
  return {
    kind: 'powens_webhook' as const,
    timestamp: new Date(),
    domain,
    event: 'USER_CREATED',
    hmacSignature: null,
    userToken: 'user-token',
    payload: '{}',
  };
}
