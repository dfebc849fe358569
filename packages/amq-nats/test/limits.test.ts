import { AMQRoutingKeyError } from '@teal/amq-core';
import { describeWithBroker, Inbox, probeBroker } from '@teal/amq-core/testing';
import { callbackMessage, routingKeyOf } from '@teal/messages';
import { expect, it } from 'vitest';
import { MAX_ROUTING_KEY_BYTES } from '../src/index';
import { NATS_URL } from './support/broker';
import { handlersOn } from './support/broker-handlers';

// Every byte of these escapes to three subject characters: the longest subjects there are.
const worstKey = (bytes: number) => '\u00a0'.repeat(bytes / 2);

describeWithBroker('nats key and prefix limits', await probeBroker(NATS_URL), () => {
  const handler = handlersOn();

  for (const mode of ['core', 'jetstream'] as const) {
    it(`${mode}: routes ${MAX_ROUTING_KEY_BYTES}-byte keys on the longest prefix, and refuses longer keys`, async () => {
      const make = (exchangePrefix: string) => handler(mode, { exchangePrefix });
      // 84 × 6 + 8 = 512 subject characters: the longest prefix allowed.
      const prefix = `${'\u00a0'.repeat(84)}${Math.random().toString(36).slice(2, 10).padEnd(8, '0')}`;
      const [receiver, sender] = [await make(prefix), await make(prefix)];
      const inbox = new Inbox(receiver);
      const keys = [worstKey(MAX_ROUTING_KEY_BYTES), 'é'.repeat(127), 'x'.repeat(255)];
      for (const key of keys) await receiver.bindCallbackState(key);
      for (const key of keys)
        await sender.send(callbackMessage({ url: 'https://x.test/cb', state: key }));
      expect((await inbox.receive(3)).map(routingKeyOf)).toEqual(keys);
      await inbox.settle(3);
      const tooLong = worstKey(MAX_ROUTING_KEY_BYTES + 2);
      await expect(receiver.bindCallbackState(tooLong)).rejects.toBeInstanceOf(AMQRoutingKeyError);
      await expect(sender.send(callbackMessage({ url: 'u', state: tooLong }))).rejects.toThrow(
        /is 1026 bytes; the broker allows 1024/,
      );
      expect(receiver.isConnected && sender.isConnected).toBe(true);
    });
  }
});
