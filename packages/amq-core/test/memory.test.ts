import { callbackMessage, type Message } from '@teal/messages';
import { describe, expect, it, vi } from 'vitest';
import { randomKey, randomPrefix, waitFor } from '../src/testing/index';

/** A fresh evaluation of the memory adapter's modules: another copy of core, as a CJS build beside an ESM one is. */
async function freshCopy(): Promise<typeof import('../src/memory/transport')> {
  vi.resetModules();
  return import('../src/memory/transport');
}

describe('memory://', () => {
  it('is one broker per name in the process, whichever copy of core made the handler', async () => {
    const first = await freshCopy();
    const second = await freshCopy();
    expect(second.connectMemory).not.toBe(first.connectMemory);
    const exchangePrefix = randomPrefix();
    const state = randomKey('copies');
    const received: Message[] = [];
    await using receiver = await first.connectMemory({ url: 'memory://copies', exchangePrefix });
    receiver.callback = (message) => {
      received.push(message);
    };
    await receiver.bindCallbackState(state);
    await using sender = await second.connectMemory({ url: 'memory://copies', exchangePrefix });
    await sender.send(callbackMessage({ url: 'https://x.test/cb', state }));
    await waitFor(() => received.length === 1, 'the message sent through the other copy', 5_000);
    expect(received[0]).toMatchObject({ kind: 'callback', state });
  });
});
