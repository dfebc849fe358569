import { callbackMessage } from '@teal/messages';
import { afterEach, describe, expect, it } from 'vitest';
import { AMQBindError, AMQError, AMQSendError } from '../../errors';
import type { HandlerOptions } from '../../handler';
import type { AMQHandler } from '../../types';
import type { SuiteContext } from '../context';
import { FaultProxy } from '../fault-proxy';
import { randomKey, recordLogs, sleep, waitFor } from '../helpers';
import { bindingsOnBroker, errorChain, eventually, sameList, skipReason, urlsOf } from './support';

/** The deadline the fault cases give each operation, and what they allow on top on a busy machine. */
const DEADLINE_MS = 1_500;
const SLACK_MS = 1_000;

/** How long an operation took to settle, and how. */
async function timed(operation: () => Promise<void>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  try {
    await operation();
    return { ms: performance.now() - started, error: undefined };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

/** Sends until one send resolves: the handler reconnected (each try waits at most its deadline). */
async function sendOnceReconnected(handler: AMQHandler, state: string, url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await handler.send(callbackMessage({ url, state }));
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

export function faultsSuite(suite: SuiteContext): void {
  const url = suite.target.url;
  const lacksUrl = skipReason(url === undefined, 'the target gives no broker url to proxy');
  const proxies: FaultProxy[] = [];

  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((proxy) => proxy.stop()));
  });

  /** A handler whose connections go through a new fault proxy. */
  const proxied = async (options: HandlerOptions = {}) => {
    const proxy = await FaultProxy.start(url!);
    proxies.push(proxy);
    const handler = await suite.handler({
      sendTimeoutMs: DEADLINE_MS,
      ...options,
      url: proxy.urlFor(url!),
    } as HandlerOptions);
    return { proxy, handler };
  };

  describe('faults', () => {
    it.skipIf(lacksUrl)(
      `settles send, bind and unbind within their deadline while cut off, then holds exactly core's bindings${lacksUrl}`,
      async () => {
        const [kept, dropped, added] = [
          randomKey('kept'),
          randomKey('dropped'),
          randomKey('added'),
        ];
        const { proxy, handler } = await proxied();
        const seen = urlsOf(handler);
        await handler.bindCallbackState(kept);
        await handler.bindCallbackState(dropped);
        // Adapters whose bindings live on the broker list them; the others list none.
        const bindsOnBroker = (await bindingsOnBroker(suite, handler)).length > 0;

        proxy.cut();
        const [send, bind, unbind] = await Promise.all([
          timed(() => handler.send(callbackMessage({ url: 'https://x.test/cb?cut', state: kept }))),
          timed(() => handler.bindCallbackState(added)),
          timed(() => handler.unbindCallbackState(dropped)),
        ]);
        for (const { ms } of [send, bind, unbind]) expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
        expect(send.error).toBeInstanceOf(AMQSendError);
        if (bind.error !== undefined) expect(bind.error).toBeInstanceOf(AMQBindError);
        if (unbind.error !== undefined) expect(unbind.error).toBeInstanceOf(AMQBindError);

        proxy.restore();
        const sender = await suite.handler();
        await sendOnceReconnected(handler, randomKey('probe'), 'https://x.test/cb?reconnected');
        const expected = [kept, ...(bind.error === undefined ? [added] : [])];
        if (bindsOnBroker) {
          const want = expected.map((key) => `binding callbacks ${key}`).sort();
          await eventually(
            () => bindingsOnBroker(suite, handler),
            (onBroker) => sameList(onBroker, want),
            "the broker to hold exactly core's bindings",
          );
        }
        for (const key of [...expected, dropped]) {
          await sender.send(callbackMessage({ url: `https://x.test/cb?to=${key}`, state: key }));
        }
        await waitFor(
          () => expected.every((key) => seen.includes(`https://x.test/cb?to=${key}`)),
          'every still-bound key to deliver',
        );
        await sleep(300);
        expect(seen).not.toContain(`https://x.test/cb?to=${dropped}`);
        expect(seen).not.toContain('https://x.test/cb?cut');
      },
      60_000,
    );

    it.skipIf(lacksUrl)(
      `closes within its deadline while cut off${lacksUrl}`,
      async () => {
        const { proxy, handler } = await proxied();
        await handler.bindCallbackState(randomKey('closing'));
        proxy.cut();
        const close = await timed(() => handler.close());
        expect(close.error).toBeUndefined();
        expect(close.ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
      },
      30_000,
    );

    it.skipIf(lacksUrl)(
      `fails to connect to a broker that refuses, with an error that shows no password${lacksUrl}`,
      async () => {
        const proxy = await FaultProxy.start(url!);
        proxies.push(proxy);
        proxy.cut();
        const refused = new URL(proxy.urlFor(url!));
        if (refused.username === '') refused.username = 'teal';
        refused.password = 'Refused-Password-Secret';
        const { logger, records } = recordLogs();
        const started = performance.now();
        const error = await suite.target
          .createHandler({
            exchangePrefix: suite.prefix(),
            url: refused.toString(),
            logger,
            sendTimeoutMs: DEADLINE_MS,
          })
          .then(
            async (handler) => {
              await handler.close();
              return new Error('connected to a broker that refuses connections');
            },
            (caught: unknown) => caught,
          );
        expect(performance.now() - started).toBeLessThan(30_000);
        expect(error).toBeInstanceOf(AMQError);
        const shown = JSON.stringify([errorChain(error), records]);
        expect(shown).not.toContain('Refused-Password-Secret');
      },
      60_000,
    );

    it.skipIf(lacksUrl)(
      `never delivers a send that rejected on a half-open connection, once the link recovers${lacksUrl}`,
      async () => {
        const state = randomKey('half-open');
        const receiver = await suite.handler();
        const seen = urlsOf(receiver);
        await receiver.bindCallbackState(state);
        const { proxy, handler: sender } = await proxied();
        await sender.send(callbackMessage({ url: 'https://x.test/cb?warm', state }));
        await waitFor(() => seen.length === 1, 'the first message');

        proxy.freeze();
        const frozen = await timed(() =>
          sender.send(callbackMessage({ url: 'https://x.test/cb?frozen', state })),
        );
        expect(frozen.error).toBeInstanceOf(AMQSendError);
        expect(frozen.ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
        const [bind, unbind] = await Promise.all([
          timed(() => sender.bindCallbackState(randomKey('frozen-bind'))),
          timed(() => sender.unbindCallbackState(randomKey('frozen-unbind'))),
        ]);
        for (const { ms } of [bind, unbind]) expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);

        await sleep(500);
        proxy.restore();
        await sendOnceReconnected(sender, state, 'https://x.test/cb?after');
        await waitFor(() => seen.includes('https://x.test/cb?after'), 'the message after recovery');
        await sleep(1_000);
        expect(seen).not.toContain('https://x.test/cb?frozen');
      },
      60_000,
    );
  });
}
