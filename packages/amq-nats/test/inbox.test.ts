import { connect as connectNats, type Msg } from '@nats-io/transport-node';
import { describeWithBroker, probeBroker, randomKey, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Subjects } from '../src/names';
import { NATS_URL } from './support/broker';
import { handlersOn } from './support/broker-handlers';

// A user whose permissions allow replies only under their own prefix sets the
// client's `inboxPrefix`; the stream's acknowledgements and the consumers'
// pushes must go there too, or that user's handler hears neither.
describeWithBroker('nats jetstream inboxes', await probeBroker(NATS_URL), () => {
  const handler = handlersOn();
  let raw: Awaited<ReturnType<typeof connectNats>>;

  beforeAll(async () => {
    raw = await connectNats({ servers: new URL(NATS_URL).host, name: 'teal-test-raw' });
  });
  afterAll(async () => {
    await raw?.close();
  });

  /** Every message a plain subscriber on the shared server sees on `subject`. */
  async function spy(subject: string): Promise<Msg[]> {
    const seen: Msg[] = [];
    raw.subscribe(subject, {
      callback: (_, msg) => {
        seen.push(msg);
      },
    });
    await raw.flush();
    return seen;
  }

  it("asks for the stream's acknowledgements and consumes under the connection's inboxPrefix", async () => {
    const prefix = `inbox-${randomKey('p')}.`;
    const inboxPrefix = `teal-test-inbox.${randomKey('u')}`;
    const key = randomKey('k');
    const published = await spy(new Subjects('teal', prefix).of('callbacks', key));
    const underPrefix = await spy(`${inboxPrefix}.>`);
    const options = { exchangePrefix: prefix, connectionOptions: { inboxPrefix } };
    const receiver = await handler('jetstream', options);
    const sender = await handler('jetstream', options);
    const urls: string[] = [];
    receiver.callback = (message) => {
      if (message.kind === 'callback') urls.push(message.url);
    };
    await receiver.bindCallbackState(key);

    await sender.send(callbackMessage({ url: 'https://x.test/one', state: key }));
    await waitFor(() => urls.length === 1 && published.length === 1, 'the delivery');

    expect(published[0]?.reply?.startsWith(`${inboxPrefix}.`)).toBe(true);
    // The consumer's push and the stream's acknowledgement, both under the prefix.
    await waitFor(() => underPrefix.length >= 2, 'the push and the acknowledgement');
    expect(underPrefix.some((msg) => msg.reply?.startsWith('$JS.ACK.'))).toBe(true);
    expect(underPrefix.some((msg) => msg.subject === published[0]?.reply)).toBe(true);
  });
});
