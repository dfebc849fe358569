import { AMQClosedError } from '@teal/amq-core/adapter';
import { callbackMessage } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from '../context';
import { Inbox, randomKey, sleep, waitFor } from '../helpers';

export function lifecycleSuite(suite: SuiteContext): void {
  const capabilities = suite.target.capabilities ?? {};
  const dropConnection = capabilities.dropConnection;
  const lacksDrop = dropConnection === undefined;

  describe('lifecycle', () => {
    it('closes idempotently, concurrently or again', async () => {
      const handler = await suite.handler();
      expect(handler.isClosed).toBe(false);
      await Promise.all([handler.close(), handler.close()]);
      await handler.close();
      await handler[Symbol.asyncDispose]();
      expect(handler.isClosed).toBe(true);
      expect(handler.isConnected).toBe(false);
    });

    it('rejects send, bind and unbind after close with a clear error', async () => {
      const handler = await suite.handler();
      await handler.close();
      const message = callbackMessage({ url: 'https://x.test/cb', state: 's' });
      await expect(handler.send(message)).rejects.toBeInstanceOf(AMQClosedError);
      await expect(handler.bindCallbackState('s')).rejects.toThrow(/after close\(\)/);
      await expect(handler.unbindPowensDomainWebhooks('d')).rejects.toBeInstanceOf(AMQClosedError);
    });

    it('delivers nothing more once closed', async () => {
      const state = randomKey('closed');
      const receiver = await suite.handler();
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState(state);
      await receiver.close();
      const sender = await suite.handler();
      await sender.send(callbackMessage({ url: 'https://x.test/cb', state }));
      await inbox.settle(0);
    });

    /** Drops the receiver, sends `during` messages meanwhile, and checks what arrives after. */
    const reconnect = async (during: number) => {
      const state = randomKey('reconnect');
      const receiver = await suite.handler({ sendTimeoutMs: 30_000 });
      const seen: string[] = [];
      receiver.callback = (message) => {
        if (message.kind === 'callback') seen.push(message.url);
      };
      await receiver.bindCallbackState(state);
      const sender = await suite.handler({ sendTimeoutMs: 30_000 });
      await sender.send(callbackMessage({ url: 'https://x.test/cb?before', state }));
      await waitFor(() => seen.length === 1, 'the message sent before the drop');

      await dropConnection!(receiver);
      for (let i = 0; i < during; i++) {
        await sender.send(callbackMessage({ url: `https://x.test/cb?during=${i}`, state }));
      }
      // Probe until the restored binding delivers again.
      await waitFor(() => receiver.isConnected, 'the handler to reconnect', 30_000);
      let probes = 0;
      const deadline = Date.now() + 30_000;
      while (!seen.some((url) => url.includes('probe')) && Date.now() < deadline) {
        await sender.send(callbackMessage({ url: `https://x.test/cb?probe=${probes++}`, state }));
        await sleep(200);
      }
      for (let i = 0; i < 10; i++) {
        await sender.send(callbackMessage({ url: `https://x.test/cb?after=${i}`, state }));
      }
      const sentAfter = () => seen.filter((url) => url.includes('after'));
      await waitFor(() => sentAfter().length >= 10, 'ten messages after', 30_000);
      await sleep(300);
      expect(new Set(seen).size).toBe(seen.length);
      expect(sentAfter()).toEqual(
        Array.from({ length: 10 }, (_, i) => `https://x.test/cb?after=${i}`),
      );
      return seen.filter((url) => url.includes('during'));
    };

    it.skipIf(lacksDrop)(
      `restores its bindings after the broker drops its connection${lacksDrop ? ' [skipped: the adapter declares no dropConnection]' : ''}`,
      async () => {
        await reconnect(0);
      },
      120_000,
    );

    const lacksBuffering = lacksDrop || !capabilities.deliversAcrossReconnect;
    it.skipIf(lacksBuffering)(
      `delivers what was sent while it was disconnected, once and in order${lacksBuffering ? ' [skipped: the adapter declares no deliversAcrossReconnect]' : ''}`,
      async () => {
        const during = await reconnect(5);
        expect(during).toEqual(
          Array.from({ length: 5 }, (_, i) => `https://x.test/cb?during=${i}`),
        );
      },
      120_000,
    );

    it.skipIf(lacksDrop)(
      `sends again after its own connection was dropped${lacksDrop ? ' [skipped: the adapter declares no dropConnection]' : ''}`,
      async () => {
        const state = randomKey('sender-drop');
        const receiver = await suite.handler();
        const inbox = new Inbox(receiver);
        await receiver.bindCallbackState(state);
        const sender = await suite.handler({ sendTimeoutMs: 30_000 });
        await dropConnection!(sender);
        await sender.send(callbackMessage({ url: 'https://x.test/cb?after-drop', state }));
        const [received] = await inbox.receive(1, 30_000);
        expect(received).toMatchObject({ url: 'https://x.test/cb?after-drop' });
      },
      120_000,
    );
  });
}
