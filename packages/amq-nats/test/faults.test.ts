import { AMQSendError, AMQUnconfirmedSendError } from '@teal/amq-core';
import {
  describeWithBroker,
  probeBroker,
  sleep,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import type { NatsTransport } from '../src/transport';
import { NATS_URL } from './support/broker';
import {
  faultProxy,
  handlersOn,
  receiverAndProxiedSender,
  sendTo,
  urlsOf,
} from './support/broker-handlers';

/** Whether `promise` settles (either way) within `ms`: a liveness bound, not a speed target. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, sleep(ms).then(() => false)]);
}

describeWithBroker('nats under network faults', await probeBroker(NATS_URL), () => {
  const handler = handlersOn();
  const proxy = faultProxy();

  for (const mode of ['core', 'jetstream'] as const) {
    it(`${mode}: writes nothing once the signal fired, even when the connection comes back`, async () => {
      const { inbox, sender } = await receiverAndProxiedSender(handler, mode, proxy(), {
        sendTimeoutMs: 30_000,
      });
      proxy().cut();
      await waitFor(() => !sender.isConnected, 'the sender to notice the cut');
      const late = encodeMessage(callbackMessage({ url: 'https://x.test/late', state: 'k' }));
      const controller = new AbortController();
      const publishing = transportOf<NatsTransport>(sender).publish(
        'callbacks',
        'k',
        late,
        controller.signal,
      );
      publishing.catch(() => {});
      await sleep(200);
      controller.abort(new AMQSendError('deadline'));
      await sleep(200);
      proxy().restore();
      await waitFor(() => sender.isConnected, 'the sender to reconnect', 30_000);
      await sendTo(sender, 'https://x.test/marker');
      await inbox.receive(1);
      await inbox.settle(1, 500);
      expect(urlsOf(inbox)).toEqual(['https://x.test/marker']);
      await expect(publishing).rejects.toThrow('deadline');
    });

    it(`${mode}: on a half-open connection, send, publish and bind end at their deadline, and what timed out is never delivered`, async () => {
      const { prefix, inbox, sender } = await receiverAndProxiedSender(handler, mode, proxy(), {
        sendTimeoutMs: 1_000,
      });
      const binder = await handler(mode, {
        exchangePrefix: prefix,
        url: proxy().urlFor(NATS_URL),
        sendTimeoutMs: 1_000,
      });
      proxy().freeze();
      await expect(sendTo(sender, 'https://x.test/timed-out')).rejects.toBeInstanceOf(AMQSendError);
      // The transports themselves must settle too, not wait for the client's ping timeout.
      const body = encodeMessage(callbackMessage({ url: 'https://x.test/raw', state: 'k' }));
      const publishing = transportOf<NatsTransport>(sender).publish(
        'callbacks',
        'k',
        body,
        AbortSignal.timeout(500),
      );
      const binding = transportOf<NatsTransport>(binder).bind(
        'callbacks',
        'k2',
        AbortSignal.timeout(500),
      );
      expect(await settlesWithin(publishing, 5_000)).toBe(true);
      expect(await settlesWithin(binding, 5_000)).toBe(true);
      await expect(publishing).rejects.toThrow();
      await expect(binding).rejects.toThrow();
      proxy().restore();
      await waitFor(() => sender.isConnected, 'the sender to reconnect', 30_000);
      await sendTo(sender, 'https://x.test/after');
      await inbox.receive(1);
      await inbox.settle(1, 1_000);
      expect(urlsOf(inbox)).toEqual(['https://x.test/after']);
      expect(transportOf<NatsTransport>(binder).resources()).toEqual([]);
    });

    it(`${mode}: says reconnected only once its bindings are back: a message sent on the event is delivered`, async () => {
      // The receiver goes through the proxy this time, the sender does not.
      const { prefix, sender: receiver } = await receiverAndProxiedSender(handler, mode, proxy());
      const sender = await handler(mode, { exchangePrefix: prefix });
      const seen: string[] = [];
      receiver.callback = (message) => {
        if (message.kind === 'callback') seen.push(message.url);
      };
      await receiver.bindCallbackState('k');
      const events: string[] = [];
      const onTheEvent = new Promise<void>((resolve, reject) => {
        receiver.on('disconnected', () => events.push('disconnected'));
        receiver.on('reconnected', () => {
          events.push('reconnected');
          sendTo(sender, 'https://x.test/on-the-event').then(resolve, reject);
        });
      });
      proxy().cut();
      await waitFor(() => events.includes('disconnected'), 'the disconnected event');
      proxy().restore();
      await onTheEvent;
      await waitFor(() => seen.length === 1, 'the message sent on the event', 5_000);
      expect(seen).toEqual(['https://x.test/on-the-event']);
      expect(events).toEqual(['disconnected', 'reconnected']);
    });

    it(`${mode}: keeps one sender's pipelined messages in order and single through a cut${mode === 'jetstream' ? ', losing none' : ''}`, async () => {
      const { receiver, sender } = await receiverAndProxiedSender(handler, mode, proxy(), {
        sendTimeoutMs: 30_000,
      });
      const seen: number[] = [];
      receiver.callback = (message) => {
        if (message.kind === 'callback')
          seen.push(Number(new URL(message.url).searchParams.get('seq')));
      };
      const total = 600;
      const sends: Array<Promise<void>> = [];
      for (let seq = 0; seq < total; seq++) {
        if (seq === 200) {
          proxy().cut();
          setTimeout(() => proxy().restore(), 500);
        }
        const sending = sendTo(sender, `https://x.test/?seq=${seq}`);
        sending.catch(() => {});
        sends.push(sending);
        if (seq % 20 === 19) await sleep(2);
      }
      const outcomes = await Promise.allSettled(sends);
      if (mode === 'jetstream') {
        expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
        await waitFor(() => seen.length >= total, `all ${total} messages`, 60_000);
        await sleep(500);
        expect(seen).toEqual(Array.from({ length: total }, (_, seq) => seq));
      } else {
        // At most once: what the cut lost is lost; what arrived is in order, once. Only the
        // sends on the wire when the cut came reject, saying they cannot tell; those issued
        // during the outage waited for the connection.
        await sleep(1_000);
        expect(seen).toEqual([...seen].sort((a, b) => a - b));
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen.at(-1)).toBe(total - 1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') {
            expect(outcome.reason).toBeInstanceOf(AMQUnconfirmedSendError);
          }
        }
      }
    }, 90_000);
  }
});
