import { connect as connectNats, headers, type NatsConnection } from '@nats-io/transport-node';
import type { AMQHandler } from '@teal/amq-core';
import {
  describeWithBroker,
  Inbox,
  probeBroker,
  recordLogs,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { CHUNK_HEADER, connect } from '../src/index';
import { Subjects } from '../src/names';
import { durableHandlers, NATS_URL } from './support/server';

// Anyone who can publish on a bound subject can send this: before the fix, the
// `new Array(count)` it caused threw inside the client's socket reader, which
// stopped reading while the connection still looked up (~60 s to the ping timeout).
const FORGED = 'x 0 99999999999 10';

describeWithBroker('nats forged chunk header', await probeBroker(NATS_URL), () => {
  const durable = durableHandlers(NATS_URL);
  const open: AMQHandler[] = [];
  let raw: NatsConnection;

  beforeAll(async () => {
    raw = await connectNats({ servers: new URL(NATS_URL).host });
  });
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((handler) => handler.close()));
  });
  afterAll(async () => {
    await raw?.close();
  });

  for (const mode of ['core', 'jetstream'] as const) {
    it(`${mode}: drops it with a warning, stays connected, and delivers the next message on the key within 1 s`, async () => {
      const prefix = `forged-${mode}-${Math.random().toString(36).slice(2, 8)}.`;
      const { logger, records } = recordLogs();
      const make = (extra: { logger?: typeof logger } = {}) =>
        mode === 'core'
          ? connect({ url: NATS_URL, exchangePrefix: prefix, ...extra })
          : durable({ exchangePrefix: prefix, ...extra });
      const receiver = await make({ logger });
      const sender = await make();
      open.push(receiver, sender);
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState('k');

      const forged = headers();
      forged.set(CHUNK_HEADER, FORGED);
      raw.publish(new Subjects('teal', prefix).of('callbacks', 'k'), 'secret-body', {
        headers: forged,
      });
      await raw.flush();

      const valid = callbackMessage({ url: 'https://x.test/after', state: 'k' });
      await sender.send(valid);
      expect(await inbox.receive(1, 1_000)).toEqual([valid]);
      expect(receiver.isConnected).toBe(true);
      await waitFor(
        () => records.some((record) => record.level === 'warn'),
        'the warning for the forged chunk',
        5_000,
      );
      expect(JSON.stringify(records)).not.toContain('secret-body');
      expect(JSON.stringify(records)).not.toContain('99999999999');
    });
  }
});
