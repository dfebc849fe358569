import type { AMQHandler } from '@teal/amq-core';
import { randomPrefix, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect } from 'vitest';
import { connect } from '../../src/index';
import { dropConnections } from './broker';

const KEYS = 12;
const MESSAGES = 3_000;
const IN_FLIGHT = 64;

/**
 * Sends MESSAGES over KEYS keys, IN_FLIGHT at a time, from one handler to
 * another, while CLIENT KILL drops the connections of each side in turn; then
 * checks that every message arrived exactly once, in order per key, and that
 * no send failed.
 */
export async function expectExactlyOnceAcrossKills(
  url: string,
  nodeUrls: readonly string[],
): Promise<void> {
  const exchangePrefix = randomPrefix();
  const keys = Array.from(
    { length: KEYS },
    (_, i) => `reconnect-${i}-${Math.random().toString(36).slice(2)}`,
  );
  const handlers: AMQHandler[] = [];
  try {
    const receiver = await connect({ url, exchangePrefix, sendTimeoutMs: 60_000 });
    handlers.push(receiver);
    const sender = await connect({ url, exchangePrefix, sendTimeoutMs: 60_000 });
    handlers.push(sender);
    receiver.onError = sender.onError = () => {};
    const received = new Map<string, number[]>(keys.map((key) => [key, []]));
    let total = 0;
    receiver.callback = (message) => {
      if (message.kind !== 'callback') return;
      received.get(message.state)?.push(Number(new URL(message.url).searchParams.get('n')));
      total++;
    };
    await Promise.all(keys.map((key) => receiver.bindCallbackState(key)));

    let sent = 0;
    const sending = (async () => {
      const inFlight = new Set<Promise<void>>();
      for (let n = 0; n < MESSAGES; n++) {
        const send = sender.send(
          callbackMessage({ url: `https://x.test/cb?n=${n}`, state: keys[n % KEYS]! }),
        );
        const tracked = send.then(() => {
          sent++;
          inFlight.delete(tracked);
        });
        inFlight.add(tracked);
        if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    })();
    // Awaited below; a failed kill must not leave its rejection unhandled.
    sending.catch(() => {});

    const victims = [receiver, sender, receiver, sender, receiver, sender];
    let kills = 0;
    for (const [index, victim] of victims.entries()) {
      // Kill at points spread over the run, whatever the machine's speed.
      const point = ((index + 1) * MESSAGES) / (victims.length + 2);
      await waitFor(() => sent >= point, `${point} sends before the next kill`, 60_000);
      kills += await dropConnections(victim, nodeUrls);
    }
    await sending;
    await waitFor(() => total >= MESSAGES, `${MESSAGES} deliveries (got ${total})`, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(kills).toBeGreaterThanOrEqual(victims.length);
    expect(total).toBe(MESSAGES);
    for (const [index, key] of keys.entries()) {
      const expected = Array.from({ length: MESSAGES / KEYS }, (_, round) => round * KEYS + index);
      expect(received.get(key)).toEqual(expected);
    }
  } finally {
    await Promise.allSettled(handlers.map((handler) => handler.close()));
  }
}
