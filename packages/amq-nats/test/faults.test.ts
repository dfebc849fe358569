import { type AMQHandler, AMQSendError, AMQUnconfirmedSendError } from '@teal/amq-core';
import {
  describeWithBroker,
  FaultProxy,
  Inbox,
  probeBroker,
  randomKey,
  sleep,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage, type Message } from '@teal/messages';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { connect, type NatsConnectOptions, type NatsMode } from '../src/index';
import type { NatsTransport } from '../src/transport';
import { durableHandlers, NATS_URL } from './support/broker';

const urlOf = (message: Message) => (message.kind === 'callback' ? message.url : '');
const MODES = ['core', 'jetstream'] as const;

/** Whether `promise` settles (either way) within `ms`: a liveness bound, not a speed target. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, sleep(ms).then(() => false)]);
}

describeWithBroker('nats under network faults', await probeBroker(NATS_URL), () => {
  const durable = durableHandlers(NATS_URL);
  const open: AMQHandler[] = [];
  let proxy: FaultProxy;

  beforeAll(async () => {
    proxy = await FaultProxy.start(NATS_URL);
  });
  afterEach(async () => {
    proxy.restore();
    await Promise.allSettled(open.splice(0).map((handler) => handler.close()));
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  async function handler(
    mode: NatsMode,
    prefix: string,
    options: Partial<NatsConnectOptions> = {},
  ): Promise<AMQHandler> {
    const made =
      mode === 'core'
        ? await connect({ url: NATS_URL, exchangePrefix: prefix, ...options })
        : await durable({ exchangePrefix: prefix, ...options });
    open.push(made);
    return made;
  }

  for (const mode of MODES) {
    it(`${mode}: writes nothing once the signal fired, even when the connection comes back`, async () => {
      const prefix = `faults-${mode}-${randomKey('p')}.`;
      const receiver = await handler(mode, prefix);
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState('k');
      const sender = await handler(mode, prefix, {
        url: proxy.urlFor(NATS_URL),
        sendTimeoutMs: 30_000,
      });
      proxy.cut();
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
      proxy.restore();
      await waitFor(() => sender.isConnected, 'the sender to reconnect', 30_000);
      const marker = callbackMessage({ url: 'https://x.test/marker', state: 'k' });
      await sender.send(marker);
      await inbox.receive(1);
      await inbox.settle(1, 500);
      expect(inbox.messages.map(urlOf)).toEqual(['https://x.test/marker']);
      await expect(publishing).rejects.toThrow('deadline');
    });

    it(`${mode}: on a half-open connection, send, publish and bind end at their deadline, and what timed out is never delivered`, async () => {
      const prefix = `faults-${mode}-${randomKey('p')}.`;
      const receiver = await handler(mode, prefix);
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState('k');
      const viaProxy = { url: proxy.urlFor(NATS_URL), sendTimeoutMs: 1_000 };
      const sender = await handler(mode, prefix, viaProxy);
      const binder = await handler(mode, prefix, viaProxy);
      proxy.freeze();
      const lost = callbackMessage({ url: 'https://x.test/timed-out', state: 'k' });
      await expect(sender.send(lost)).rejects.toBeInstanceOf(AMQSendError);
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
      proxy.restore();
      await waitFor(() => sender.isConnected, 'the sender to reconnect', 30_000);
      const after = callbackMessage({ url: 'https://x.test/after', state: 'k' });
      await sender.send(after);
      expect((await inbox.receive(1)).map(urlOf)).toEqual(['https://x.test/after']);
      await inbox.settle(1, 1_000);
      expect(transportOf<NatsTransport>(binder).resources()).toEqual([]);
    });

    it(`${mode}: a publish the server got but could not confirm is delivered once, not published again${mode === 'core' ? ', and its send says so' : ''}`, async () => {
      const prefix = `faults-${mode}-${randomKey('p')}.`;
      const receiver = await handler(mode, prefix);
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState('k');
      const sender = await handler(mode, prefix, {
        url: proxy.urlFor(NATS_URL),
        sendTimeoutMs: 30_000,
      });
      // The send is held, then handed to the server while its answer is held in turn:
      // the server has the message, the sender never hears it did.
      proxy.stall();
      const first = callbackMessage({ url: 'https://x.test/first', state: 'k' });
      const sending = sender.send(first);
      sending.catch(() => {});
      await sleep(100);
      proxy.heal();
      proxy.stall();
      await inbox.receive(1);
      proxy.cut();
      if (mode === 'core') {
        // Core NATS cannot tell whether it arrived: it says so rather than risk a duplicate.
        await expect(sending).rejects.toBeInstanceOf(AMQUnconfirmedSendError);
      }
      proxy.restore();
      if (mode === 'jetstream') {
        // JetStream sends it again with its message id: stored once, confirmed.
        await sending;
      }
      await waitFor(() => sender.isConnected, 'the sender to reconnect', 30_000);
      const second = callbackMessage({ url: 'https://x.test/second', state: 'k' });
      await sender.send(second);
      await inbox.receive(2);
      await inbox.settle(2, 1_000);
      expect(inbox.messages.map(urlOf)).toEqual(['https://x.test/first', 'https://x.test/second']);
    });

    it(`${mode}: a send unconfirmed as its deadline nears rejects as unconfirmed before core's timeout, and lands at most once when the stalled link heals`, async () => {
      const prefix = `faults-${mode}-${randomKey('p')}.`;
      const receiver = await handler(mode, prefix);
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState('k');
      const sender = await handler(mode, prefix, {
        url: proxy.urlFor(NATS_URL),
        sendTimeoutMs: 1_500,
      });
      await sender.send(callbackMessage({ url: 'https://x.test/warm', state: 'k' }));
      await inbox.receive(1);
      proxy.stall();
      const started = performance.now();
      const sending = sender.send(callbackMessage({ url: 'https://x.test/stalled', state: 'k' }));
      await expect(sending).rejects.toBeInstanceOf(AMQUnconfirmedSendError);
      expect(performance.now() - started).toBeLessThan(1_500);
      // TCP delivering late what a partition held, ahead of the reset the adapter sent: the
      // server may get the message now, which is what "unconfirmed" warned of.
      proxy.heal();
      await waitFor(() => sender.isConnected, 'the sender to reconnect', 30_000);
      await sender.send(callbackMessage({ url: 'https://x.test/after', state: 'k' }));
      await waitFor(() => inbox.messages.map(urlOf).includes('https://x.test/after'), 'after');
      await sleep(1_000);
      const urls = inbox.messages.map(urlOf);
      expect(urls.filter((url) => url === 'https://x.test/stalled').length).toBeLessThanOrEqual(1);
      expect(urls.filter((url) => url !== 'https://x.test/stalled')).toEqual([
        'https://x.test/warm',
        'https://x.test/after',
      ]);
    });

    it(`${mode}: a send written into a connection the kernel already reset waits for the next one and is delivered once`, async () => {
      const prefix = `faults-${mode}-${randomKey('p')}.`;
      const receiver = await handler(mode, prefix);
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState('k');
      const sender = await handler(mode, prefix, { url: proxy.urlFor(NATS_URL) });
      await sender.send(callbackMessage({ url: 'https://x.test/warm', state: 'k' }));
      await inbox.receive(1);
      // The reset reaches the kernel now and the client later: the send is written into it.
      proxy.cut();
      const sending = sender.send(callbackMessage({ url: 'https://x.test/after-cut', state: 'k' }));
      await sleep(300);
      proxy.restore();
      await sending;
      await inbox.receive(2);
      await inbox.settle(2, 1_000);
      expect(inbox.messages.map(urlOf)).toEqual([
        'https://x.test/warm',
        'https://x.test/after-cut',
      ]);
    });

    it(`${mode}: says reconnected only once its bindings are back: a message sent on the event is delivered`, async () => {
      const prefix = `faults-${mode}-${randomKey('p')}.`;
      const receiver = await handler(mode, prefix, { url: proxy.urlFor(NATS_URL) });
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState('k');
      const sender = await handler(mode, prefix);
      const events: string[] = [];
      const onTheEvent = new Promise<void>((resolve, reject) => {
        receiver.on('disconnected', () => events.push('disconnected'));
        receiver.on('reconnected', () => {
          events.push('reconnected');
          sender
            .send(callbackMessage({ url: 'https://x.test/on-the-event', state: 'k' }))
            .then(resolve, reject);
        });
      });
      proxy.cut();
      await waitFor(() => events.includes('disconnected'), 'the disconnected event');
      proxy.restore();
      await onTheEvent;
      expect((await inbox.receive(1, 5_000)).map(urlOf)).toEqual(['https://x.test/on-the-event']);
      expect(events).toEqual(['disconnected', 'reconnected']);
    });

    it(`${mode}: keeps one sender's pipelined messages in order and single through a cut${mode === 'jetstream' ? ', losing none' : ''}`, async () => {
      const prefix = `faults-${mode}-${randomKey('p')}.`;
      const receiver = await handler(mode, prefix);
      const seen: number[] = [];
      receiver.callback = (message) => {
        seen.push(Number(new URL(urlOf(message)).searchParams.get('seq')));
      };
      await receiver.bindCallbackState('k');
      const sender = await handler(mode, prefix, {
        url: proxy.urlFor(NATS_URL),
        sendTimeoutMs: 30_000,
      });
      const total = 600;
      const sends: Array<Promise<void>> = [];
      for (let seq = 0; seq < total; seq++) {
        if (seq === 200) {
          proxy.cut();
          setTimeout(() => proxy.restore(), 500);
        }
        const sending = sender.send(
          callbackMessage({ url: `https://x.test/?seq=${seq}`, state: 'k' }),
        );
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
