import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import {
  describeWithBroker,
  Inbox,
  probeBroker,
  randomKey,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import { creationWaitMs } from '../src/consumer-jetstream';
import { encodeToken } from '../src/names';
import { defaultStreamName } from '../src/settings';
import type { NatsTransport } from '../src/transport';
import { NATS_URL } from './support/broker';
import { faultProxy, handlersOn } from './support/broker-handlers';

/** The consumers on a prefix's stream, as the server lists them: `<exchange of its filter>`. */
async function consumersOn(prefix: string): Promise<string[]> {
  const nc = await connectNats({ servers: new URL(NATS_URL).host });
  try {
    const jsm = await jetstreamManager(nc);
    const exchanges: string[] = [];
    for await (const info of jsm.consumers.list(defaultStreamName(encodeToken(prefix)))) {
      exchanges.push(info.config.filter_subject?.split('.').at(-2) ?? '?');
    }
    return exchanges.sort();
  } finally {
    await nc.close();
  }
}

describeWithBroker('nats JetStream consumers on the server', await probeBroker(NATS_URL), () => {
  const handler = handlersOn();
  const proxy = faultProxy();

  it('keeps one consumer per exchange with bound keys, deletes it with the last key, and every one on close', async () => {
    const prefix = `consumers-${randomKey('p')}.`;
    const receiver = await handler('jetstream', { exchangePrefix: prefix });
    await receiver.bindCallbackState('a');
    await receiver.bindCallbackState('b');
    await receiver.bindPowensDomainWebhooks('d');
    expect(await consumersOn(prefix)).toEqual(['callbacks', 'powens_domain_webhooks']);

    await receiver.unbindCallbackState('a');
    expect(await consumersOn(prefix)).toEqual(['callbacks', 'powens_domain_webhooks']);
    await receiver.unbindCallbackState('b');
    await expectConsumers(prefix, ['powens_domain_webhooks']);
    expect(transportOf<NatsTransport>(receiver).resources()).toEqual([
      'binding powens_domain_webhooks d',
      expect.stringMatching(/^consumer TEAL_\S+ teal_\S+$/),
    ]);

    // Bound again, it delivers again.
    await receiver.bindCallbackState('a');
    const inbox = new Inbox(receiver);
    await receiver.send(callbackMessage({ url: 'https://x.test/again', state: 'a' }));
    await inbox.receive(1);
    await receiver.close();
    await expectConsumers(prefix, []);
    expect(transportOf<NatsTransport>(receiver).resources()).toEqual([]);
  });

  it('deletes the consumer of a last key unbound during an outage once the connection is back', async () => {
    const prefix = `consumers-${randomKey('p')}.`;
    const receiver = await handler('jetstream', {
      exchangePrefix: prefix,
      url: proxy().urlFor(NATS_URL),
    });
    await receiver.bindCallbackState('a');
    expect(await consumersOn(prefix)).toEqual(['callbacks']);
    proxy().cut();
    await waitFor(() => !receiver.isConnected, 'the receiver to notice the cut');
    await receiver.unbindCallbackState('a');
    proxy().restore();
    await waitFor(() => receiver.isConnected, 'the receiver to reconnect', 30_000);
    await expectConsumers(prefix, []);
    expect(transportOf<NatsTransport>(receiver).resources()).toEqual([]);
  });
});

/** Polls the server until it lists exactly `expected`; fails naming what it lists. */
async function expectConsumers(prefix: string, expected: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  let listed = await consumersOn(prefix);
  while (JSON.stringify(listed) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    listed = await consumersOn(prefix);
  }
  expect(listed).toEqual(expected);
}

describe('waits for a consumer made again', () => {
  it('gives six unanswered creations in a row a quarter of a second each, then doubles up to 3 s', () => {
    // One creation in three lands on a dead server after a crash: six quick tries make
    // a run of bad draws cost 1.5 s at most before the waits grow.
    const waits = Array.from({ length: 11 }, (_, unanswered) => creationWaitMs(unanswered));
    expect(waits).toEqual([250, 250, 250, 250, 250, 250, 500, 1_000, 2_000, 3_000, 3_000]);
  });
});
