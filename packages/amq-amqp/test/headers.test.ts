import * as diagnostics from 'node:diagnostics_channel';
import type { AMQHandler } from '@teal/amq-core';
import { describeWithBroker, randomKey, recordLogs, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage, type Message } from '@teal/messages';
import type { ConsumeMessage } from 'amqplib';
import { afterEach, expect, it } from 'vitest';
import {
  AMQP_URL,
  cleanupsAfterEach,
  handlerMaker,
  isolatedPrefix,
  probeRabbit,
  rawConnection,
} from './support/broker';
import {
  flatHeaders,
  nestedHeaders,
  publishRaw,
  type RawProperties,
} from './support/raw-publisher';

const unavailable = await probeRabbit();

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const TRACESTATE = 'teal=t61rcWkgMzE';

describeWithBroker('amqp headers: trace context in the AMQP header table', unavailable, () => {
  const cleanups = cleanupsAfterEach();
  const unsubscribes: Array<() => void> = [];
  afterEach(() => {
    for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
  });

  const handler = handlerMaker(cleanups);

  function subscribe(channel: string, listener: (message: unknown) => void): void {
    diagnostics.subscribe(channel, listener);
    unsubscribes.push(() => diagnostics.unsubscribe(channel, listener));
  }

  /** Adds these headers to every send of `key`, as a tracer subscribed to core's send channel does. */
  function traceSends(key: string, headers: Record<string, string>): void {
    subscribe('tracing:teal:amq:send:start', (message) => {
      const event = message as { routingKey: string; headers: Record<string, string> };
      if (event.routingKey === key) Object.assign(event.headers, headers);
    });
  }

  /** The headers each delivery of `key` reached core with, in order. */
  function deliveredHeaders(key: string): Array<Readonly<Record<string, string>>> {
    const seen: Array<Readonly<Record<string, string>>> = [];
    subscribe('tracing:teal:amq:deliver:start', (message) => {
      const event = message as { routingKey: string; headers: Readonly<Record<string, string>> };
      if (event.routingKey === key) seen.push(event.headers);
    });
    return seen;
  }

  /** What a raw consumer bound to `key` receives: body and properties as RabbitMQ hands them on. */
  async function rawReceiver(exchangePrefix: string, key: string): Promise<ConsumeMessage[]> {
    const model = await rawConnection(cleanups);
    const channel = await model.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, `${exchangePrefix}callbacks`, key);
    const received: ConsumeMessage[] = [];
    await channel.consume(queue, (message) => message && received.push(message), { noAck: true });
    return received;
  }

  /** A receiver bound to a fresh key, its messages and warnings recorded. */
  async function receiver(exchangePrefix: string) {
    const { logger, records } = recordLogs();
    const target: AMQHandler = await handler({ exchangePrefix, logger });
    const messages: Message[] = [];
    target.callback = (message) => {
      messages.push(message);
    };
    const key = randomKey('headers');
    await target.bindCallbackState(key);
    const warnings = () => records.filter((record) => record.level === 'warn');
    return { key, messages, warnings, headers: deliveredHeaders(key) };
  }

  it('sends trace context in the header table, the body byte for byte the JSON a Python peer reads', async () => {
    const exchangePrefix = isolatedPrefix(cleanups);
    const key = randomKey('traced');
    traceSends(key, { traceparent: TRACEPARENT, tracestate: TRACESTATE });
    const sender = await handler({ exchangePrefix });
    const received = await rawReceiver(exchangePrefix, key);
    const message = callbackMessage({ url: 'https://x.test/cb?traced', state: key });
    await sender.send(message);
    await waitFor(() => received.length === 1, 'the raw delivery');
    const [delivery] = received;
    expect(delivery!.content.equals(Buffer.from(encodeMessage(message)))).toBe(true);
    expect(delivery!.properties.contentType).toBe('application/json');
    expect(delivery!.properties.headers).toEqual({
      traceparent: TRACEPARENT,
      tracestate: TRACESTATE,
    });
  });

  it('sends no trace header when nobody traces', async () => {
    const exchangePrefix = isolatedPrefix(cleanups);
    const key = randomKey('untraced');
    const sender = await handler({ exchangePrefix });
    const received = await rawReceiver(exchangePrefix, key);
    await sender.send(callbackMessage({ url: 'https://x.test/cb?untraced', state: key }));
    await waitFor(() => received.length === 1, 'the raw delivery');
    expect(Object.keys(received[0]!.properties.headers ?? {})).toEqual([]);
  });

  it('hands the trace context of a delivery to core, and none for a delivery without headers', async () => {
    const exchangePrefix = isolatedPrefix(cleanups);
    const { key, messages, headers } = await receiver(exchangePrefix);
    const model = await rawConnection(cleanups);
    const channel = await model.createConfirmChannel();
    const body = (n: number) =>
      Buffer.from(encodeMessage(callbackMessage({ url: `https://x.test/cb?${n}`, state: key })));
    channel.publish(`${exchangePrefix}callbacks`, key, body(0), {
      headers: { traceparent: TRACEPARENT, 'x-retries': 3, 'x-death': [{ count: 1 }] },
    });
    channel.publish(`${exchangePrefix}callbacks`, key, body(1), {});
    await channel.waitForConfirms();
    await waitFor(() => messages.length === 2, 'both messages');
    // Headers that are not strings are not trace context: left out without a word.
    expect(headers).toEqual([{ traceparent: TRACEPARENT }, {}]);
  });

  /**
   * Publishes a valid message with these hostile properties on a bare socket
   * (what no client library writes), then checks that its body still reached
   * the callback, with what headers, and with a warning.
   */
  async function survives(properties: (state: string) => RawProperties) {
    const exchangePrefix = isolatedPrefix(cleanups);
    const { key, messages, warnings, headers } = await receiver(exchangePrefix);
    const message = callbackMessage({ url: 'https://x.test/cb?hostile-headers', state: key });
    await publishRaw(
      AMQP_URL,
      { exchange: `${exchangePrefix}callbacks`, routingKey: key },
      properties(key),
      Buffer.from(encodeMessage(message)),
    );
    await waitFor(() => messages.length === 1, 'the body of the hostile delivery');
    expect(messages[0]).toEqual(message);
    await waitFor(() => warnings().length > 0, 'a warning');
    return { headers: headers[0], warnings: warnings() };
  }

  it('delivers the body of a delivery whose header table is nested 10,000 deep, without its headers', async () => {
    const { headers, warnings } = await survives((secret) => nestedHeaders(10_000, secret));
    expect(headers).toEqual({});
    expect(warnings[0]!.message).toMatch(/could not be decoded; its body goes on/);
  });

  it('delivers the body of a delivery with 6,000 headers, keeping 16 of them', async () => {
    const { headers, warnings } = await survives(() =>
      flatHeaders([
        ['traceparent', TRACEPARENT],
        ...Array.from({ length: 6_000 }, (_, i) => [`h${i}`, `${i}`] as const),
      ]),
    );
    expect(Object.keys(headers!)).toHaveLength(16);
    expect(headers!.traceparent).toBe(TRACEPARENT);
    expect(warnings[0]!.message).toMatch(/past their bounds; its body goes on/);
  });

  it('delivers the body of a delivery with a header of 100 KiB, leaving that header out', async () => {
    const { headers } = await survives(() =>
      flatHeaders([
        ['tracestate', 'v'.repeat(100 * 1024)],
        ['traceparent', TRACEPARENT],
      ]),
    );
    expect(headers).toEqual({ traceparent: TRACEPARENT });
  });

  it('sends the body when a tracer adds a header past the bounds, leaving that header out', async () => {
    const exchangePrefix = isolatedPrefix(cleanups);
    const { key, messages, headers } = await receiver(exchangePrefix);
    traceSends(key, { traceparent: TRACEPARENT, tracestate: 'v'.repeat(100 * 1024) });
    const { logger, records } = recordLogs();
    const sender = await handler({ exchangePrefix, logger });
    await sender.send(callbackMessage({ url: 'https://x.test/cb?big-state', state: key }));
    await waitFor(() => messages.length === 1, 'the message');
    expect(headers).toEqual([{ traceparent: TRACEPARENT }]);
    expect(records.some((record) => /past their bounds/.test(record.message))).toBe(true);
  });
});
