import * as diagnostics from 'node:diagnostics_channel';
import { connect as connectNats, headers, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import type { DeliverEvent, SendEvent } from '@teal/amq-core';
import {
  describeWithBroker,
  probeBroker,
  randomKey,
  recordLogs,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage, powensWebhookMessage } from '@teal/messages';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Subjects } from '../src/names';
import { NATS_URL } from './support/broker';
import { handlersOn } from './support/broker-handlers';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const TRACESTATE = 'teal=t61rcWkgMzE';
const utf8 = new TextEncoder();

describeWithBroker('nats trace context in message headers', await probeBroker(NATS_URL), () => {
  const handler = handlersOn();
  const unsubscribes: Array<() => void> = [];
  let raw: Awaited<ReturnType<typeof connectNats>>;

  beforeAll(async () => {
    raw = await connectNats({ servers: new URL(NATS_URL).host, name: 'teal-test-raw' });
  });
  afterEach(async () => {
    for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
  });
  afterAll(async () => {
    await raw?.close();
  });

  /** Subscribes `listener` to a diagnostics channel until the test ends. */
  function listen<T>(channel: string, listener: (event: T) => void): void {
    const onMessage = (message: unknown) => listener(message as T);
    diagnostics.subscribe(channel, onMessage);
    unsubscribes.push(() => diagnostics.unsubscribe(channel, onMessage));
  }

  /** The headers of each delivery of `key`, as core's deliver events show them. */
  function deliveredHeaders(key: string): Array<Readonly<Record<string, string>>> {
    const seen: Array<Readonly<Record<string, string>>> = [];
    listen<DeliverEvent>('tracing:teal:amq:deliver:start', (event) => {
      if (event.routingKey === key) seen.push(event.headers);
    });
    return seen;
  }

  /** Adds `extra` to the headers of every send of `key`, as a tracer does. */
  function trace(key: string, extra: Record<string, string>): void {
    listen<SendEvent>('tracing:teal:amq:send:start', (event) => {
      if (event.routingKey === key) Object.assign(event.headers, extra);
    });
  }

  /** What a plain subscriber on the shared server sees of the messages of `key`. */
  async function spy(prefix: string, key: string): Promise<Msg[]> {
    const seen: Msg[] = [];
    raw.subscribe(new Subjects('teal', prefix).of('callbacks', key), {
      callback: (_, msg) => {
        seen.push(msg);
      },
    });
    await raw.flush();
    return seen;
  }

  async function publishRaw(prefix: string, key: string, body: Uint8Array, hdrs: MsgHdrs) {
    const subject = new Subjects('teal', prefix).of('callbacks', key);
    const js = (await import('@nats-io/jetstream')).jetstream(raw);
    await js.publish(subject, body, { headers: hdrs });
  }

  for (const mode of ['core', 'jetstream'] as const) {
    it(`${mode}: a send nobody traces writes no header of its own, and one traced writes its context beside the body`, async () => {
      const prefix = `headers-${mode}-${randomKey('p')}.`;
      const sender = await handler(mode, { exchangePrefix: prefix });
      const [plain, traced] = [randomKey('plain'), randomKey('traced')];
      const seenPlain = await spy(prefix, plain);
      const seenTraced = await spy(prefix, traced);
      trace(traced, { traceparent: TRACEPARENT, tracestate: TRACESTATE });
      const message = callbackMessage({ url: 'https://x.test/cb', state: traced });
      await sender.send(callbackMessage({ url: 'https://x.test/cb', state: plain }));
      await sender.send(message);
      await waitFor(() => seenPlain.length === 1 && seenTraced.length === 1, 'both messages');
      // JetStream's own: the message id that makes a retried send stored once.
      expect(seenPlain[0]?.headers?.keys() ?? []).toEqual(mode === 'core' ? [] : ['Nats-Msg-Id']);
      expect(seenTraced[0]?.headers?.get('traceparent')).toBe(TRACEPARENT);
      expect(seenTraced[0]?.headers?.get('tracestate')).toBe(TRACESTATE);
      // The body is the Python original's, to the byte.
      expect(new TextDecoder().decode(seenTraced[0]?.data)).toBe(encodeMessage(message));
    });

    it(`${mode}: hands a plain NATS client's trace headers to the handler, in lower case, never its own or the server's`, async () => {
      const prefix = `headers-${mode}-${randomKey('p')}.`;
      const receiver = await handler(mode, { exchangePrefix: prefix });
      receiver.callback = () => {};
      const key = randomKey('k');
      const delivered = deliveredHeaders(key);
      await receiver.bindCallbackState(key);
      const hdrs = headers();
      hdrs.set('Traceparent', TRACEPARENT);
      hdrs.set('tracestate', TRACESTATE);
      hdrs.set('Nats-Expected-Stream', 'elsewhere-not-checked-by-core-nats');
      const body = utf8.encode(
        encodeMessage(callbackMessage({ url: 'https://x.test/cb', state: key })),
      );
      if (mode === 'core') {
        raw.publish(new Subjects('teal', prefix).of('callbacks', key), body, { headers: hdrs });
        await raw.flush();
      } else {
        hdrs.delete('Nats-Expected-Stream');
        await publishRaw(prefix, key, body, hdrs);
      }
      await waitFor(() => delivered.length === 1, 'the delivery');
      expect({ ...delivered[0] }).toEqual({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
    });

    it(`${mode}: delivers a valid body whose trace headers are hostile without them, warning with a count only`, async () => {
      const prefix = `headers-${mode}-${randomKey('p')}.`;
      const { logger, records } = recordLogs();
      const receiver = await handler(mode, { exchangePrefix: prefix, logger });
      const urls: string[] = [];
      receiver.callback = (message) => {
        if (message.kind === 'callback') urls.push(message.url);
      };
      const key = randomKey('k');
      const delivered = deliveredHeaders(key);
      await receiver.bindCallbackState(key);
      const secret = `Hostile-Secret-${randomKey('s')}`;
      const hdrs = headers();
      hdrs.set('traceparent', secret.padEnd(60_000, '0'));
      for (let i = 0; i < 40; i++) hdrs.set(`x-${i}`, secret);
      const body = utf8.encode(
        encodeMessage(callbackMessage({ url: 'https://x.test/ok', state: key })),
      );
      if (mode === 'core') {
        raw.publish(new Subjects('teal', prefix).of('callbacks', key), body, { headers: hdrs });
        await raw.flush();
      } else {
        await publishRaw(prefix, key, body, hdrs);
      }
      await waitFor(() => urls.length === 1, 'the body');
      expect(urls).toEqual(['https://x.test/ok']);
      expect(Object.keys(delivered[0] ?? {})).toHaveLength(16);
      expect(delivered[0]?.traceparent).toBeUndefined();
      const warning = records.find((record) => record.message.includes('left out message headers'));
      expect(warning?.fields).toEqual({ exchange: 'callbacks', droppedHeaders: 25 });
      expect(JSON.stringify(records)).not.toContain(secret);
    });

    it(`${mode}: sends a body whose trace headers NATS cannot carry without them`, async () => {
      const prefix = `headers-${mode}-${randomKey('p')}.`;
      const { logger, records } = recordLogs();
      const sender = await handler(mode, { exchangePrefix: prefix, logger });
      const receiver = await handler(mode, { exchangePrefix: prefix });
      receiver.callback = () => {};
      const key = randomKey('k');
      const delivered = deliveredHeaders(key);
      await receiver.bindCallbackState(key);
      trace(key, {
        traceparent: TRACEPARENT,
        'two words': 'x',
        split: 'a\r\nb',
        'Nats-Msg-Id': 'x',
      });
      await sender.send(callbackMessage({ url: 'https://x.test/cb', state: key }));
      await waitFor(() => delivered.length === 1, 'the delivery');
      expect({ ...delivered[0] }).toEqual({ traceparent: TRACEPARENT });
      const warning = records.find((record) => record.message.includes('NATS cannot carry'));
      expect(warning?.fields).toEqual({ exchange: 'callbacks', droppedHeaders: 3 });
    });

    it(`${mode}: carries the trace context of a message over max_payload on its first chunk, back with the whole body`, async () => {
      const prefix = `headers-${mode}-${randomKey('p')}.`;
      const receiver = await handler(mode, { exchangePrefix: prefix });
      const received: unknown[] = [];
      receiver.callback = (message) => {
        received.push(message);
      };
      const sender = await handler(mode, { exchangePrefix: prefix });
      const domain = `${randomKey('d')}.biapi.pro`;
      const delivered: Array<Readonly<Record<string, string>>> = [];
      listen<DeliverEvent>('tracing:teal:amq:deliver:start', (event) => {
        if (event.routingKey === domain) delivered.push(event.headers);
      });
      listen<SendEvent>('tracing:teal:amq:send:start', (event) => {
        if (event.routingKey === domain) Object.assign(event.headers, { traceparent: TRACEPARENT });
      });
      await receiver.bindPowensDomainWebhooks(domain);
      const chunks: Msg[] = [];
      raw.subscribe(new Subjects('teal', prefix).of('powens_domain_webhooks', domain), {
        callback: (_, msg) => {
          chunks.push(msg);
        },
      });
      await raw.flush();
      const big = powensWebhookMessage({
        domain,
        event: 'BIG',
        userToken: null,
        payload: 'x'.repeat(2.5 * 1024 * 1024),
      });
      await sender.send(big);
      await waitFor(() => received.length === 1, 'the whole message', 30_000);
      // The raw subscriber's connection may still be reading the chunks the
      // server sent it: its PONG comes after them.
      await raw.flush();
      expect(received).toEqual([big]);
      expect({ ...delivered[0] }).toEqual({ traceparent: TRACEPARENT });
      expect(chunks.length).toBeGreaterThan(2);
      expect(chunks.map((chunk) => chunk.headers?.get('traceparent'))).toEqual([
        TRACEPARENT,
        ...chunks.slice(1).map(() => ''),
      ]);
    }, 60_000);
  }
});
