import { type AMQHandler, AMQSendError } from '@teal/amq-core';
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
import type { NatsTransportBase } from '../src/base';
import {
  connect,
  type NatsConnectOptions,
  type NatsMode,
  NatsUnconfirmedSendError,
} from '../src/index';
import { durableHandlers, NATS_URL, ReplyMutingProxy } from './support';

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
      const publishing = transportOf<NatsTransportBase>(sender).publish(
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
      const publishing = transportOf<NatsTransportBase>(sender).publish(
        'callbacks',
        'k',
        body,
        AbortSignal.timeout(500),
      );
      const binding = transportOf<NatsTransportBase>(binder).bind(
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
      expect(transportOf<NatsTransportBase>(binder).resources()).toEqual([]);
    });

    it(`${mode}: a publish the server got but could not confirm is delivered once, not published again${mode === 'core' ? ', and its send says so' : ''}`, async () => {
      const prefix = `faults-${mode}-${randomKey('p')}.`;
      const muting = await ReplyMutingProxy.start(NATS_URL);
      try {
        const receiver = await handler(mode, prefix);
        const inbox = new Inbox(receiver);
        await receiver.bindCallbackState('k');
        const sender = await handler(mode, prefix, {
          url: muting.urlFor(NATS_URL),
          sendTimeoutMs: 30_000,
        });
        muting.muteReplies();
        const first = callbackMessage({ url: 'https://x.test/first', state: 'k' });
        const sending = sender.send(first);
        sending.catch(() => {});
        await inbox.receive(1);
        muting.reset();
        if (mode === 'core') {
          // Core NATS cannot tell whether it arrived: it says so rather than risk a duplicate.
          await expect(sending).rejects.toBeInstanceOf(NatsUnconfirmedSendError);
        } else {
          // JetStream sends it again with its message id: stored once, confirmed.
          await sending;
        }
        await waitFor(() => sender.isConnected, 'the sender to reconnect', 30_000);
        const second = callbackMessage({ url: 'https://x.test/second', state: 'k' });
        await sender.send(second);
        await inbox.receive(2);
        await inbox.settle(2, 1_000);
        expect(inbox.messages.map(urlOf)).toEqual([
          'https://x.test/first',
          'https://x.test/second',
        ]);
      } finally {
        await muting.stop();
      }
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
        const send = sender.send(
          callbackMessage({ url: `https://x.test/?seq=${seq}`, state: 'k' }),
        );
        // Observed at once: a send may reject while the loop still sleeps.
        send.catch(() => {});
        sends.push(send);
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
            expect(outcome.reason).toBeInstanceOf(NatsUnconfirmedSendError);
          }
        }
      }
    }, 90_000);
  }
});
