import { AMQUnconfirmedSendError } from '@teal/amq-core';
import { describeWithBroker, probeBroker, sleep, waitFor } from '@teal/amq-core/testing';
import { expect, it } from 'vitest';
import { NATS_URL } from './support/broker';
import {
  faultProxy,
  handlersOn,
  receiverAndProxiedSender,
  sendTo,
  urlsOf,
} from './support/broker-handlers';

// A rejected send is never delivered, except an AMQUnconfirmedSendError: written, and its
// confirmation lost. These cases make each side of that line on purpose.
describeWithBroker('nats sends the server may have got', await probeBroker(NATS_URL), () => {
  const handler = handlersOn();
  const proxy = faultProxy();

  for (const mode of ['core', 'jetstream'] as const) {
    it(`${mode}: a publish the server got but could not confirm is delivered once, not published again${mode === 'core' ? ', and its send says so' : ''}`, async () => {
      const { inbox, sender } = await receiverAndProxiedSender(handler, mode, proxy(), {
        sendTimeoutMs: 30_000,
      });
      // The send is held, then handed to the server while its answer is held in turn:
      // the server has the message, the sender never hears it did.
      proxy().stall();
      const sending = sendTo(sender, 'https://x.test/first');
      sending.catch(() => {});
      await sleep(100);
      proxy().heal();
      proxy().stall();
      await inbox.receive(1);
      proxy().cut();
      if (mode === 'core') {
        // Core NATS cannot tell whether it arrived: it says so rather than risk a duplicate.
        await expect(sending).rejects.toBeInstanceOf(AMQUnconfirmedSendError);
      }
      proxy().restore();
      if (mode === 'jetstream') {
        // JetStream sends it again with its message id: stored once, confirmed.
        await sending;
      }
      await waitFor(() => sender.isConnected, 'the sender to reconnect', 30_000);
      await sendTo(sender, 'https://x.test/second');
      await inbox.receive(2);
      await inbox.settle(2, 1_000);
      expect(urlsOf(inbox)).toEqual(['https://x.test/first', 'https://x.test/second']);
    });

    it(`${mode}: a send unconfirmed as its deadline nears rejects as unconfirmed before core's timeout, and lands at most once when the stalled link heals`, async () => {
      const { inbox, sender } = await receiverAndProxiedSender(handler, mode, proxy(), {
        sendTimeoutMs: 1_500,
      });
      await sendTo(sender, 'https://x.test/warm');
      await inbox.receive(1);
      proxy().stall();
      const started = performance.now();
      await expect(sendTo(sender, 'https://x.test/stalled')).rejects.toBeInstanceOf(
        AMQUnconfirmedSendError,
      );
      expect(performance.now() - started).toBeLessThan(1_500);
      // TCP delivering late what a partition held, ahead of the reset the adapter sent: the
      // server may get the message now, which is what "unconfirmed" warned of.
      proxy().heal();
      await waitFor(() => sender.isConnected, 'the sender to reconnect', 30_000);
      await sendTo(sender, 'https://x.test/after');
      await waitFor(() => urlsOf(inbox).includes('https://x.test/after'), 'the message after');
      await sleep(1_000);
      const urls = urlsOf(inbox);
      expect(urls.filter((url) => url === 'https://x.test/stalled').length).toBeLessThanOrEqual(1);
      expect(urls.filter((url) => url !== 'https://x.test/stalled')).toEqual([
        'https://x.test/warm',
        'https://x.test/after',
      ]);
    });

    it(`${mode}: a send written into a connection the kernel already reset waits for the next one and is delivered once`, async () => {
      const { inbox, sender } = await receiverAndProxiedSender(handler, mode, proxy());
      await sendTo(sender, 'https://x.test/warm');
      await inbox.receive(1);
      // The reset reaches the kernel now and the client later: the send is written into it.
      proxy().cut();
      const sending = sendTo(sender, 'https://x.test/after-cut');
      await sleep(300);
      proxy().restore();
      await sending;
      await inbox.receive(2);
      await inbox.settle(2, 1_000);
      expect(urlsOf(inbox)).toEqual(['https://x.test/warm', 'https://x.test/after-cut']);
    });
  }
});
