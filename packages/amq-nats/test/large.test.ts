import { connect as connectNats, headers } from '@nats-io/transport-node';
import { describeWithBroker, Inbox, recordLogs, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, powensWebhookMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { CHUNK_HEADER, NatsMessageTooLargeError } from '../src/index';
import { Subjects } from '../src/names';
import { privateServerForFile, privateServerUnavailable } from './support/server';

const MAX_PAYLOAD = 64 * 1024;

describeWithBroker(
  `nats messages over max_payload (${MAX_PAYLOAD} bytes)`,
  privateServerUnavailable(),
  () => {
    const { server, handler } = privateServerForFile(`max_payload: ${MAX_PAYLOAD}`);

    for (const mode of ['core', 'jetstream'] as const) {
      it(`${mode}: delivers a message of 20 chunks whole, in order with the small ones around it`, async () => {
        const receiver = await handler({ mode, exchangePrefix: `large-${mode}` });
        const inbox = new Inbox(receiver);
        const domain = 'large.biapi.pro';
        await receiver.bindPowensDomainWebhooks(domain);
        const sender = await handler({ mode, exchangePrefix: `large-${mode}` });
        const payload = JSON.stringify({ data: 'é'.repeat(300_000) + 'x'.repeat(600_000) });
        const sent = ['small-1', payload, 'small-2'].map((body) =>
          powensWebhookMessage({ domain, event: 'BIG', userToken: 't', payload: body }),
        );
        await Promise.all(sent.map((message) => sender.send(message)));
        const received = await inbox.receive(3, 30_000);
        expect(received).toEqual(sent);
        await inbox.settle(3);
      });
    }

    it('never delivers half a message: an incomplete set is dropped with a warning naming its sizes', async () => {
      const { logger, records } = recordLogs();
      const warnings = () => records.filter((record) => record.level === 'warn');
      const receiver = await handler({ exchangePrefix: 'partial', logger, chunkTimeoutMs: 200 });
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState('s');
      // Two chunks of three, as a sender that died mid-message would leave them.
      const nc = await connectNats({ servers: `127.0.0.1:${server().port}` });
      const subject = new Subjects('teal', 'partial').of('callbacks', 's');
      for (const index of [0, 1]) {
        const chunk = headers();
        chunk.set(CHUNK_HEADER, `dead-sender ${index} 3 3000`);
        nc.publish(subject, new Uint8Array(1024), { headers: chunk });
      }
      await nc.flush();
      await nc.close();
      await waitFor(() => warnings().length > 0, 'the warning for the incomplete message');
      expect(warnings()[0]?.fields).toMatchObject({
        exchange: 'callbacks',
        expectedBytes: 3000,
        receivedBytes: 2048,
      });
      const whole = callbackMessage({ url: 'https://x.test/after', state: 's' });
      await receiver.send(whole);
      expect(await inbox.receive(1)).toEqual([whole]);
      await inbox.settle(1);
    });

    it('rejects a message over maxMessageBytes with both sizes, sending nothing', async () => {
      const sender = await handler({ exchangePrefix: 'too-large', maxMessageBytes: 100_000 });
      const message = powensWebhookMessage({
        domain: 'd',
        event: 'E',
        userToken: null,
        payload: 'x'.repeat(200_000),
      });
      const sending = sender.send(message);
      await expect(sending).rejects.toBeInstanceOf(NatsMessageTooLargeError);
      await expect(sending).rejects.toThrow(/is \d{6} bytes; maxMessageBytes allows 100000/);
    });
  },
);
