/** The files a consumer project of the packed `@teal/amq-otel` runs and type-checks. */

const FLOW = `
(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const uninstrument = instrument({ tracerProvider, propagator: new W3CTraceContextPropagator() });
  let isRefusedTwice = false;
  try {
    instrument();
  } catch (error) {
    isRefusedTwice = error instanceof AMQAlreadyInstrumentedError && error instanceof AMQError;
  }
  const handler = await connect({ url: 'memory://packed-otel' });
  let continuedTrace = null;
  const delivered = new Promise((resolve) => {
    handler.callback = (message) => {
      continuedTrace = trace.getSpan(contextOf(message))?.spanContext().traceId ?? null;
      resolve();
    };
  });
  await handler.bind('callback', 'packed-state');
  await handler.send(callbackMessage({ url: 'https://app.test/cb', state: 'packed-state' }));
  await delivered;
  await handler.close();
  uninstrument();
  const spans = exporter.getFinishedSpans();
  const traces = [...new Set(spans.map((span) => span.spanContext().traceId))];
  console.log(JSON.stringify({
    names: spans.map((span) => span.name).sort(),
    traces: traces.length,
    isContinued: continuedTrace === traces[0],
    isRefusedTwice,
  }));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

export const OTEL_ESM_SCRIPT = `import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { AMQError, connect } from '@teal/amq-core';
import { AMQAlreadyInstrumentedError, contextOf, instrument } from '@teal/amq-otel';
import { callbackMessage } from '@teal/messages';
${FLOW}`;

export const OTEL_CJS_SCRIPT = `const { context, trace } = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { W3CTraceContextPropagator } = require('@opentelemetry/core');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { AMQError, connect } = require('@teal/amq-core');
const { AMQAlreadyInstrumentedError, contextOf, instrument } = require('@teal/amq-otel');
const { callbackMessage } = require('@teal/messages');
${FLOW}`;

/** A TypeScript consumer, type-checked against the shipped declarations (ESM and CJS). */
export const OTEL_TYPED_CONSUMER = `import { context, type Context, trace } from '@opentelemetry/api';
import type { Message } from '@teal/messages';
import { contextOf, type InstrumentOptions, instrument, type Uninstrument } from '@teal/amq-otel';

export function observe(message: Message): Uninstrument {
  const options: InstrumentOptions = { recordRoutingKey: false, tracerProvider: trace.getTracerProvider() };
  const uninstrument: Uninstrument = instrument(options);
  const delivered: Context | undefined = contextOf(message);
  context.with(delivered ?? context.active(), () => trace.getActiveSpan()?.end());
  return uninstrument;
}
`;
