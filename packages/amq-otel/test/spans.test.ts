import * as diagnostics from 'node:diagnostics_channel';
import { context, metrics, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { publishRawForTesting, randomKey, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage, type Message } from '@teal/messages';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { contextOf, instrument } from '../src/index';
import { everythingRecorded, useHarness } from './support';

const harness = useHarness();

/** The headers of every delivery, as the receiving handler got them. */
function recordDeliveredHeaders(): Array<Readonly<Record<string, string>>> {
  const seen: Array<Readonly<Record<string, string>>> = [];
  const listener = (event: unknown) =>
    seen.push((event as { headers: Record<string, string> }).headers);
  diagnostics.subscribe('tracing:teal:amq:deliver:start', listener);
  onTestFinished(() => {
    diagnostics.unsubscribe('tracing:teal:amq:deliver:start', listener);
  });
  return seen;
}

describe('spans', () => {
  it('a send is a PRODUCER span of the active context; the delivery a CONSUMER span its child, linked to it', async () => {
    const h = harness();
    h.instrument();
    const headers = recordDeliveredHeaders();
    const state = randomKey('state');
    const received: Message[] = [];
    const receiver = await h.handler();
    receiver.callback = (message) => {
      received.push(message);
    };
    await receiver.bind('callback', state);
    const sender = await h.handler();
    const message = callbackMessage({ url: `https://app.test/cb?state=${state}`, state });

    const request = h.tracerProvider.getTracer('test').startSpan('GET /callback');
    await context.with(trace.setSpan(context.active(), request), () => sender.send(message));
    request.end();
    await waitFor(() => h.spans().some((span) => span.name === 'process callbacks'), 'the span');

    const send = h.spans().find((span) => span.name === 'send callbacks')!;
    const process = h.spans().find((span) => span.name === 'process callbacks')!;
    const traceId = request.spanContext().traceId;
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.spanContext().traceId).toBe(traceId);
    expect(send.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(send.attributes).toEqual({
      'messaging.system': 'teal_memory',
      'messaging.destination.name': 'callbacks',
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
      'messaging.message.body.size': encodeMessage(message).length,
      'teal.amq.adapter': '@teal/amq-core (memory)',
    });
    expect(send.status.code).toBe(SpanStatusCode.UNSET);

    // The context crossed the broker beside the body, as W3C trace context.
    expect(headers[0]?.traceparent).toBe(`00-${traceId}-${send.spanContext().spanId}-01`);

    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.spanContext().traceId).toBe(traceId);
    expect(process.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    expect(process.links.map((link) => link.context.spanId)).toContain(send.spanContext().spanId);
    expect(process.attributes).toMatchObject({
      'messaging.system': 'teal_memory',
      'messaging.destination.name': 'callbacks',
      'messaging.operation.name': 'process',
      'messaging.operation.type': 'process',
    });

    // The callback continues the trace from the message.
    const continued = contextOf(received[0]!);
    expect(trace.getSpan(continued!)?.spanContext().spanId).toBe(process.spanContext().spanId);
  });

  it('never records the routing key by default, in spans or metrics', async () => {
    const h = harness();
    h.instrument();
    const state = randomKey('secret-state');
    const receiver = await h.handler();
    receiver.callback = () => {};
    await receiver.bind('callback', state);
    const sender = await h.handler();
    await sender.send(callbackMessage({ url: `https://app.test/cb?state=${state}`, state }));
    await waitFor(() => h.spans().length === 2, 'two spans');
    await receiver.unbind('callback', state);

    expect(everythingRecorded(h.spans())).not.toContain(state);
    const names = [
      'messaging.client.sent.messages',
      'messaging.client.consumed.messages',
      'messaging.client.operation.duration',
      'messaging.process.duration',
      'teal.amq.message.latency',
      'teal.amq.bindings',
    ];
    for (const name of names) {
      const metric = await h.metric(name);
      expect(metric?.dataPoints.length, name).toBeGreaterThan(0);
      expect(JSON.stringify(metric?.dataPoints.map((point) => point.attributes))).not.toContain(
        state,
      );
    }
  });

  it('records the routing key on spans when asked to', async () => {
    const h = harness();
    h.instrument({ recordRoutingKey: true });
    const state = randomKey('state');
    const receiver = await h.handler();
    receiver.callback = () => {};
    await receiver.bind('callback', state);
    await (await h.handler()).send(callbackMessage({ url: 'https://app.test/cb', state }));
    await waitFor(() => h.spans().length === 2, 'two spans');
    for (const span of h.spans()) expect(span.attributes['teal.amq.routing_key']).toBe(state);
    const sent = await h.metric('messaging.client.sent.messages');
    expect(JSON.stringify(sent?.dataPoints)).not.toContain(state);
  });

  it('ends the span of a failed send with an error status and error.type', async () => {
    const h = harness();
    h.instrument();
    const sender = await h.handler();
    const message = callbackMessage({ url: 'https://app.test/cb', state: randomKey('state') });
    const aborted = AbortSignal.abort(new Error('the caller gave up'));
    await expect(sender.send(message, { signal: aborted })).rejects.toThrow();
    const send = h.spans().find((span) => span.name === 'send callbacks')!;
    expect(send.status.code).toBe(SpanStatusCode.ERROR);
    expect(send.attributes['error.type']).toEqual(expect.any(String));
  });

  it('a message that came without trace context gets a process span of the context active at delivery', async () => {
    const h = harness();
    h.instrument();
    const state = randomKey('state');
    const receiver = await h.handler();
    receiver.callback = () => {};
    await receiver.bind('callback', state);
    // As the Python original sends: the body alone, no headers.
    const body = encodeMessage(callbackMessage({ url: 'https://app.test/cb', state }));
    await publishRawForTesting(receiver, 'callbacks', state, body);
    await waitFor(() => h.spans().length === 1, 'the span');
    const [process] = h.spans();
    expect(process?.name).toBe('process callbacks');
    expect(process?.parentSpanContext).toBeUndefined();
    expect(process?.links).toEqual([]);
  });
});

describe('instrument() with no argument', () => {
  afterEach(() => {
    trace.disable();
    metrics.disable();
    propagation.disable();
  });

  it('uses the global tracer provider, meter provider and propagator', async () => {
    const h = harness();
    trace.setGlobalTracerProvider(h.tracerProvider);
    metrics.setGlobalMeterProvider(h.meterProvider);
    propagation.setGlobalPropagator(h.propagator);
    const undo = instrument();
    try {
      const state = randomKey('state');
      const receiver = await h.handler();
      receiver.callback = () => {};
      await receiver.bind('callback', state);
      await (await h.handler()).send(callbackMessage({ url: 'https://app.test/cb', state }));
      await waitFor(() => h.spans().length === 2, 'two spans');
      const [send, process] = ['send callbacks', 'process callbacks'].map(
        (name) => h.spans().find((span) => span.name === name)!,
      );
      expect(process?.parentSpanContext?.spanId).toBe(send?.spanContext().spanId);
      const sent = await h.metric('messaging.client.sent.messages');
      expect(sent?.dataPoints[0]?.value).toBe(1);
    } finally {
      undo();
    }
  });
});
