import { getEventListeners } from 'node:events';
import { callbackMessage } from '@teal/messages';
import { describe, expect, it, vi } from 'vitest';
import { createHandler, markWritten, onAbort, type Transport } from '../src/adapter';
import {
  AMQError,
  type AMQHandler,
  AMQRoutingKeyError,
  AMQSendError,
  AMQUnconfirmedSendError,
  connectMemory,
  withHandler,
} from '../src/index';
import { Inbox, randomKey, sleep, waitFor } from '../src/testing/index';

function stubTransport(overrides: Partial<Transport>): Transport {
  return {
    name: '@teal/test-transport',
    isConnected: true,
    publish: async () => {},
    bind: async () => {},
    unbind: async () => {},
    close: async () => {},
    ...overrides,
  };
}

describe('the shared handler', () => {
  it('rejects send() when the transport does not accept in time, naming the exchange', async () => {
    const handler = await createHandler(
      async () => stubTransport({ publish: () => new Promise<void>(() => {}) }),
      { sendTimeoutMs: 50 },
    );
    await expect(handler.send(callbackMessage({ url: 'u', state: 's' }))).rejects.toThrow(
      /did not accept the message on callbacks within 50 ms/,
    );
    await handler.close();
  });

  it('wraps a transport failure in AMQSendError with its cause', async () => {
    const cause = new Error('channel closed');
    const handler = await createHandler(async () =>
      stubTransport({ publish: async () => Promise.reject(cause) }),
    );
    const error = await handler
      .send(callbackMessage({ url: 'u', state: 's' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AMQSendError);
    expect((error as Error).cause).toBe(cause);
    await handler.close();
  });

  it('checks the broker limit on routing keys in UTF-8 bytes before publishing', async () => {
    const published: string[] = [];
    const handler = await createHandler(async () =>
      stubTransport({
        maxRoutingKeyBytes: 255,
        publish: async (_e, key) => void published.push(key),
      }),
    );
    await handler.send(callbackMessage({ url: 'u', state: 'é'.repeat(127) }));
    const long = 'é'.repeat(128);
    await expect(handler.send(callbackMessage({ url: 'u', state: long }))).rejects.toThrow(
      /\[@teal\/test-transport\] send\(\): the routing key is 256 bytes; the broker allows 255/,
    );
    await expect(handler.bindCallbackState(long)).rejects.toBeInstanceOf(AMQRoutingKeyError);
    expect(published).toHaveLength(1);
    await handler.close();
  });

  it('forgets a key whose broker bind failed, so binding again retries', async () => {
    let failures = 1;
    const handler = await createHandler(async () =>
      stubTransport({
        bind: async () => {
          if (failures-- > 0) throw new Error('bind refused');
        },
      }),
    );
    await expect(handler.bindCallbackState('k')).rejects.toThrow('bind refused');
    await expect(handler.bindCallbackState('k')).resolves.toBeUndefined();
    await handler.close();
  });

  it('runs bind and unbind of one key in call order', async () => {
    const calls: string[] = [];
    const handler = await createHandler(async () =>
      stubTransport({
        bind: async (_e, key) => {
          await sleep(20);
          calls.push(`bind ${key}`);
        },
        unbind: async (_e, key) => void calls.push(`unbind ${key}`),
      }),
    );
    await Promise.all([
      handler.bindCallbackState('k'),
      handler.unbindCallbackState('k'),
      handler.bindCallbackState('k'),
    ]);
    expect(calls).toEqual(['bind k', 'unbind k', 'bind k']);
    await handler.close();
  });

  it('refuses a concurrency below one', async () => {
    await expect(
      createHandler(async () => stubTransport({}), { concurrency: 0 }),
    ).rejects.toBeInstanceOf(AMQError);
  });

  it('runs up to `concurrency` callbacks at once when asked', async () => {
    const handler = await connectMemory({
      url: 'memory://',
      exchangePrefix: randomKey('c'),
      concurrency: 4,
    });
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    handler.callback = async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(20);
      running--;
      done++;
    };
    await handler.bindCallbackState('k');
    await Promise.all(
      Array.from({ length: 12 }, () => handler.send(callbackMessage({ url: 'u', state: 'k' }))),
    );
    await waitFor(() => done === 12, 'twelve callbacks');
    expect(maxRunning).toBe(4);
    await handler.close();
  });

  it('drops messages that arrive while callback is null', async () => {
    const handler = await connectMemory({ url: 'memory://', exchangePrefix: randomKey('n') });
    await handler.bindCallbackState('k');
    await handler.send(callbackMessage({ url: 'u?dropped', state: 'k' }));
    await sleep(20);
    const inbox = new Inbox(handler);
    await handler.send(callbackMessage({ url: 'u?kept', state: 'k' }));
    const [received] = await inbox.receive(1);
    expect(received).toMatchObject({ url: 'u?kept' });
    await inbox.settle(1, 50);
    await handler.close();
  });

  it('keeps separate in-process brokers apart by name', async () => {
    const prefix = randomKey('named');
    const [a, b] = await Promise.all([
      connectMemory({ url: 'memory://a', exchangePrefix: prefix }),
      connectMemory({ url: 'memory://b', exchangePrefix: prefix }),
    ]);
    const inbox = new Inbox(b);
    await b.bindCallbackState('k');
    await a.send(callbackMessage({ url: 'u', state: 'k' }));
    await inbox.settle(0, 50);
    await Promise.all([a.close(), b.close()]);
  });

  it('closes the handler after withHandler, even when the function throws', async () => {
    let kept: AMQHandler | undefined;
    await expect(
      withHandler({ url: 'memory://' }, async (handler) => {
        kept = handler;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(kept?.isClosed).toBe(true);
    expect(await withHandler({ url: 'memory://' }, () => 42)).toBe(42);
  });
});

describe('deadlines', () => {
  it('rejects a written but unconfirmed send at its deadline as an AMQUnconfirmedSendError', async () => {
    const handler = await createHandler(
      async () =>
        stubTransport({
          publish: (_exchange, _key, _body, signal) => {
            markWritten(signal);
            return new Promise<void>(() => {});
          },
        }),
      { sendTimeoutMs: 50 },
    );
    const error = await handler.send(callbackMessage({ url: 'u', state: 's' })).catch((e) => e);
    expect(error).toBeInstanceOf(AMQUnconfirmedSendError);
    expect(error).toBeInstanceOf(AMQSendError);
    await handler.close();
  });

  it('shares one signal among the sends of a millisecond, and rejects each at the deadline with its own error', async () => {
    const signals: AbortSignal[] = [];
    const handler = await createHandler(
      async () =>
        stubTransport({
          publish: (_exchange, _key, _body, signal) => {
            signals.push(signal);
            // As a transport may: a listener on the signal itself, per send.
            signal.addEventListener('abort', () => {}, { once: true });
            return new Promise<void>(() => {});
          },
        }),
      { sendTimeoutMs: 50 },
    );
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const started = performance.now();
    const sends = Array.from({ length: 100 }, (_, i) =>
      handler.send(callbackMessage({ url: 'u', state: `s${i}` })).catch((e: unknown) => e),
    );
    const errors = await Promise.all(sends);
    // Never before the deadline; a shared one fires at most a millisecond after it.
    expect(performance.now() - started).toBeGreaterThanOrEqual(49);
    expect(new Set(signals).size).toBeLessThan(signals.length);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    for (const error of errors) {
      expect(error).toBeInstanceOf(AMQSendError);
      expect(error).not.toBeInstanceOf(AMQUnconfirmedSendError);
      expect(String(error)).toContain('within 50 ms');
    }
    expect(new Set(errors).size).toBe(errors.length);
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(warnings.map((warning) => warning.name)).not.toContain('MaxListenersExceededWarning');
    await handler.close();
  });

  it("lets an awaited send join its millisecond's deadline with a full timeout of its own, written or not by its own account", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const signals: AbortSignal[] = [];
      const handler = await createHandler(
        async () =>
          stubTransport({
            publish: (_exchange, key, _body, signal) => {
              signals.push(signal);
              if (key === 'hangs') return new Promise<void>(() => {});
              // Every other send is written and confirmed at once.
              markWritten(signal);
              return Promise.resolve();
            },
          }),
        { sendTimeoutMs: 50 },
      );
      const send = (state: string) => handler.send(callbackMessage({ url: 'u', state }));
      await send('first');
      await vi.advanceTimersByTimeAsync(0.5);
      let outcome: unknown = 'pending';
      void send('hangs').catch((error: unknown) => {
        outcome = error;
      });
      expect(signals[1]).toBe(signals[0]);
      // The timer had stopped with the first send; the second's starts it again.
      await vi.advanceTimersByTimeAsync(49.9);
      expect(outcome).toBe('pending');
      await vi.advanceTimersByTimeAsync(1.2);
      // Unwritten: the first send's markWritten() went with it.
      expect(outcome).toBeInstanceOf(AMQSendError);
      expect(outcome).not.toBeInstanceOf(AMQUnconfirmedSendError);
      // A deadline that fired takes no more sends, nor one past its millisecond.
      await send('after the deadline');
      expect(signals[2]).not.toBe(signals[1]);
      await vi.advanceTimersByTimeAsync(1);
      await send('a millisecond later');
      expect(signals[3]).not.toBe(signals[2]);
      await handler.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('stops the shared deadline once its sends settled: no timer is left to hold the process', async () => {
    const handler = await connectMemory({
      url: `memory://${randomKey('timers')}`,
      sendTimeoutMs: 600_000,
    });
    const timersBefore = countTimers();
    await Promise.all(
      Array.from({ length: 1_000 }, (_, i) =>
        handler.send(callbackMessage({ url: 'u', state: `t${i}` })),
      ),
    );
    expect(countTimers()).toBe(timersBefore);
    await handler.close();
  });

  it('listens to a caller signal shared by many waits with one listener', async () => {
    const handler = await connectMemory({ url: `memory://${randomKey('shared-signal')}` });
    const controller = new AbortController();
    const waits = Array.from({ length: 1_000 }, (_, i) =>
      handler.waitFor('callback', `k${i}`, { signal: controller.signal }).catch((e) => e),
    );
    expect(getEventListeners(controller.signal, 'abort').length).toBe(1);
    const reason = new Error('gone');
    controller.abort(reason);
    expect(new Set(await Promise.all(waits))).toEqual(new Set([reason]));
    await handler.close();
  });

  it('tells a listener of a signal core made without a listener on the signal', () => {
    const seen: string[] = [];
    const controller = new AbortController();
    const leave = onAbort(controller.signal, () => seen.push('first'));
    onAbort(controller.signal, () => seen.push('second'));
    leave();
    controller.abort();
    expect(seen).toEqual(['second']);
  });
});

/** The timers this process holds, as Node counts them. */
function countTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}
