import type { AMQHandler } from '@teal/amq-core';
import { connect, silentLogger } from '@teal/amq-core';
import { randomKey, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, type Message } from '@teal/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Registration } from '../src/dispatcher/protocol';
import { KeyRegistry, type Subscriber } from '../src/dispatcher/registry';
import { recordingHandler } from './helpers/recording';

let real: AMQHandler;
let sender: AMQHandler;
let calls: string[];
let registry: KeyRegistry;
const refused = new Set<string>();

class Collector implements Subscriber {
  readonly messages: Message[] = [];
  deliver(message: Message): void {
    this.messages.push(message);
  }
}

beforeEach(async () => {
  const url = `memory://${randomKey('registry')}`;
  real = await connect({ url, logger: silentLogger });
  sender = await connect({ url, logger: silentLogger });
  calls = [];
  refused.clear();
  const handler = recordingHandler(real, calls, refused);
  registry = new KeyRegistry(handler);
  handler.callback = (message) => registry.dispatch(message);
});
afterEach(async () => {
  await real.close();
  await sender.close();
});

const state = (key: string): Registration => ({ kind: 'callback', key });

describe('KeyRegistry', () => {
  it('binds a key once for many subscribers and unbinds it when the last leaves', async () => {
    const [a, b] = [new Collector(), new Collector()];
    await Promise.all([registry.acquire(a, state('k')), registry.acquire(b, state('k'))]);
    expect(calls).toEqual(['bindCallbackState(k)']);
    registry.release(a, state('k'));
    expect(calls).toEqual(['bindCallbackState(k)']);
    expect(registry.has(state('k'))).toBe(true);
    registry.release(b, state('k'));
    expect(calls).toEqual(['bindCallbackState(k)', 'unbindCallbackState(k)']);
    expect(registry.size).toBe(0);
  });

  it('delivers a message to every subscriber of its key and to no other', async () => {
    const [a, b, other] = [new Collector(), new Collector(), new Collector()];
    await registry.acquire(a, state('k'));
    await registry.acquire(b, state('k'));
    await registry.acquire(other, state('other'));
    await sender.send(callbackMessage({ url: 'https://l/callback?state=k', state: 'k' }));
    await waitFor(() => a.messages.length === 1 && b.messages.length === 1, 'both subscribers');
    expect(other.messages).toHaveLength(0);
  });

  it('keeps kinds apart: a state and a request id may be equal', async () => {
    const a = new Collector();
    await registry.acquire(a, { kind: 'openid_ciba_callback', key: 'same' });
    await registry.acquire(a, state('same'));
    expect(calls).toEqual(['bindOpenIDCIBARequestIdentifier(same)', 'bindCallbackState(same)']);
  });

  it('ignores a release of a key the subscriber does not hold', async () => {
    const [a, b] = [new Collector(), new Collector()];
    await registry.acquire(a, state('k'));
    registry.release(b, state('k'));
    registry.release(b, state('nothing'));
    expect(calls).toEqual(['bindCallbackState(k)']);
  });

  it('rejects every waiting subscriber when the bind fails, and binds afresh next time', async () => {
    refused.add('bad');
    const [a, b] = [new Collector(), new Collector()];
    const results = await Promise.allSettled([
      registry.acquire(a, state('bad')),
      registry.acquire(b, state('bad')),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(registry.has(state('bad'))).toBe(false);
    refused.clear();
    await registry.acquire(a, state('bad'));
    expect(calls).toEqual(['bindCallbackState(bad)', 'bindCallbackState(bad)']);
  });

  it('rebinds a key that was released while its bind was pending', async () => {
    const a = new Collector();
    const pending = registry.acquire(a, state('k'));
    registry.release(a, state('k'));
    await pending;
    await registry.acquire(a, state('k'));
    expect(calls).toEqual([
      'bindCallbackState(k)',
      'unbindCallbackState(k)',
      'bindCallbackState(k)',
    ]);
    await sender.send(callbackMessage({ url: 'https://l/', state: 'k' }));
    await waitFor(() => a.messages.length === 1, 'the message after the rebind');
  });
});
