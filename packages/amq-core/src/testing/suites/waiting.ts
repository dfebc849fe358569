import { AMQTimeoutError } from '@teal/amq-core/adapter';
import { callbackMessage, openIDCIBACallbackMessage } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import type { AMQHandler } from '../../types';
import type { SuiteContext } from '../context';
import { randomKey, reportFigure, waitFor } from '../helpers';
import { bindingsOnBroker, eventually, skipReason, urlsOf } from './support';

/** `waitFor()` with a promise that resolves once its key is bound. */
function waitBound(
  handler: AMQHandler,
  state: string,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
) {
  let onBound = () => {};
  const bound = new Promise<void>((resolve) => {
    onBound = resolve;
  });
  const message = handler.waitFor('callback', state, { ...options, onBound });
  return { bound, message };
}

export function waitingSuite(suite: SuiteContext): void {
  const brokerResources = suite.target.capabilities?.brokerResources;
  const lacksView = skipReason(
    brokerResources === undefined,
    'the adapter declares no brokerResources',
  );

  /** The broker bindings of the handler, once they match `expected` (when the adapter lists bindings). */
  const expectBindings = async (handler: AMQHandler, expected: string[]) => {
    if (brokerResources === undefined) return;
    await eventually(
      () => bindingsOnBroker(suite, handler),
      (bindings) =>
        bindings.length === expected.length && bindings.every((line, i) => line === expected[i]),
      `the broker bindings ${JSON.stringify(expected)}`,
    );
  };

  describe('waitFor and shared bindings', () => {
    it('resolves with the first message of its key sent once bound, then lets the key go', async () => {
      const handler = await suite.handler();
      const seen = urlsOf(handler);
      const state = randomKey('wait');
      const { bound, message } = waitBound(handler, state);
      await bound;
      const sender = await suite.handler();
      await sender.send(callbackMessage({ url: 'https://x.test/cb?first', state }));
      await sender.send(callbackMessage({ url: 'https://x.test/cb?second', state }));
      const first = await message;
      expect(first).toMatchObject({ kind: 'callback', state, url: 'https://x.test/cb?first' });
      // The callback sees what a waiter takes.
      await waitFor(() => seen.includes('https://x.test/cb?first'), 'the callback to see it too');
      await expectBindings(handler, []);
    });

    it('shares one broker binding among waiters, a subscription and an explicit bind, and unbinds after the last', async () => {
      const handler = await suite.handler();
      const seen = urlsOf(handler);
      const state = randomKey('shared');
      const binding = `binding callbacks ${state}`;
      const one = waitBound(handler, state);
      const two = waitBound(handler, state);
      const subscription = handler.subscribe('callback', state);
      await Promise.all([
        one.bound,
        two.bound,
        subscription.bound,
        handler.bind('callback', state),
      ]);
      const lists =
        brokerResources !== undefined && (await bindingsOnBroker(suite, handler)).length > 0;
      if (lists) expect(await bindingsOnBroker(suite, handler)).toEqual([binding]);
      const sender = await suite.handler();
      await sender.send(callbackMessage({ url: 'https://x.test/cb?1', state }));
      expect((await one.message).url).toBe('https://x.test/cb?1');
      expect((await two.message).url).toBe('https://x.test/cb?1');
      expect((await subscription.next()).value).toMatchObject({ url: 'https://x.test/cb?1' });
      await subscription.return();
      // Still held by the explicit bind.
      await sender.send(callbackMessage({ url: 'https://x.test/cb?2', state }));
      await waitFor(
        () => seen.includes('https://x.test/cb?2'),
        'the explicitly bound key to deliver',
      );
      if (lists) await expectBindings(handler, [binding]);
      await handler.unbind('callback', state);
      await expectBindings(handler, []);
      await sender.send(callbackMessage({ url: 'https://x.test/cb?3', state }));
      const probe = randomKey('probe');
      await handler.bind('callback', probe);
      await sender.send(callbackMessage({ url: 'https://x.test/cb?probe', state: probe }));
      await waitFor(() => seen.includes('https://x.test/cb?probe'), 'the probe');
      expect(seen).not.toContain('https://x.test/cb?3');
    });

    it('rejects with an AMQTimeoutError after timeoutMs, and lets the key go', async () => {
      const handler = await suite.handler();
      const state = randomKey('timeout');
      const started = performance.now();
      await expect(handler.waitFor('callback', state, { timeoutMs: 300 })).rejects.toBeInstanceOf(
        AMQTimeoutError,
      );
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
      await expectBindings(handler, []);
    });

    it("rejects with the signal's reason on abort, and lets the key go", async () => {
      const handler = await suite.handler();
      const controller = new AbortController();
      const state = randomKey('abort');
      const { bound, message } = waitBound(handler, state, { signal: controller.signal });
      await bound;
      const reason = new Error('the user went away');
      controller.abort(reason);
      await expect(message).rejects.toBe(reason);
      await expectBindings(handler, []);
      const aborted = AbortSignal.abort(reason);
      await expect(handler.waitFor('callback', state, { signal: aborted })).rejects.toBe(reason);
    });

    it.skipIf(lacksView)(
      `settles 10,000 concurrent waits on distinct keys — half by a message, half by abort — and leaves no binding${lacksView}`,
      async () => {
        const count = 10_000;
        const handler = await suite.handler({ sendTimeoutMs: 60_000 });
        const sender = await suite.handler({ sendTimeoutMs: 60_000 });
        const controller = new AbortController();
        const keys = Array.from({ length: count }, (_, i) => `${randomKey('many')}-${i}`);
        let bound = 0;
        const started = performance.now();
        const waits = keys.map((key, i) =>
          handler.waitFor('openid_ciba_callback', key, {
            onBound: () => {
              bound++;
            },
            ...(i % 2 === 1 ? { signal: controller.signal } : {}),
          }),
        );
        // Observed at once: the aborted ones reject while the sends travel, before allSettled().
        for (const wait of waits) wait.catch(() => {});
        await waitFor(() => bound === count, `${count} bindings (got ${bound})`, 60_000);
        const boundMs = performance.now() - started;
        // Handled before they reject: the sends below take many turns of the event loop.
        const settled = Promise.allSettled(waits);
        controller.abort(new Error('aborted on purpose'));
        await Promise.all(
          keys
            .filter((_, i) => i % 2 === 0)
            .map((requestId) => sender.send(openIDCIBACallbackMessage({ requestId }))),
        );
        const outcomes = await settled;
        const resolved = outcomes.filter(
          (outcome, i) => i % 2 === 0 && outcome.status === 'fulfilled',
        );
        const aborted = outcomes.filter(
          (outcome, i) => i % 2 === 1 && outcome.status === 'rejected',
        );
        expect(resolved.length).toBe(count / 2);
        expect(aborted.length).toBe(count / 2);
        await eventually(
          () => brokerResources!(handler),
          (left) => left.length === 0,
          'no binding of the waits left on the broker',
          60_000,
        );
        reportFigure(
          `${suite.target.name}: ${count} concurrent waitFor bound in ${Math.round(boundMs)} ms, all settled and unbound in ${Math.round(performance.now() - started)} ms`,
        );
      },
      180_000,
    );
  });
}
