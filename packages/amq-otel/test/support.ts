import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  type Histogram,
  type HistogramMetricData,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { type AMQHandler, connect } from '@teal/amq-core';
import { randomKey } from '@teal/amq-core/testing';
import { afterEach, beforeAll } from 'vitest';
import { type InstrumentOptions, instrument, type Uninstrument } from '../src/index';

/** Collects on demand: what a Prometheus scrape or a periodic export would read. */
class OnDemandReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** The real OpenTelemetry SDK, in memory: spans in an exporter, metrics read on demand. */
export interface Harness {
  readonly spans: () => ReadableSpan[];
  readonly metric: (name: string) => Promise<MetricData | undefined>;
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  readonly propagator: W3CTraceContextPropagator;
  /** Instruments with this harness's providers; undone after the test. */
  instrument(options?: InstrumentOptions): Uninstrument;
  /** A handler on a memory broker of the test's own; closed after the test. */
  handler(): Promise<AMQHandler>;
}

/**
 * A harness per test. `context.active()` needs a context manager, which only
 * exists globally: one is registered for the file.
 */
export function useHarness(): () => Harness {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  let cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
  });
  return () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const reader = new OnDemandReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const propagator = new W3CTraceContextPropagator();
    const broker = `memory://${randomKey('otel')}`;
    cleanups.push(() => meterProvider.shutdown());
    return {
      spans: () => exporter.getFinishedSpans(),
      metric: async (name) => {
        const { resourceMetrics } = await reader.collect();
        return resourceMetrics.scopeMetrics
          .flatMap((scope) => scope.metrics)
          .find((metric) => metric.descriptor.name === name);
      },
      tracerProvider,
      meterProvider,
      propagator,
      instrument: (options = {}) => {
        const undo = instrument({ tracerProvider, meterProvider, propagator, ...options });
        cleanups.push(undo);
        return undo;
      },
      handler: async () => {
        const handler = await connect({ url: broker });
        cleanups.push(() => handler.close());
        return handler;
      },
    };
  };
}

/** The sum of a counter's points whose attributes include `attributes`. */
export function total(metric: MetricData | undefined, attributes: Record<string, unknown>): number {
  let sum = 0;
  for (const point of metric?.dataPoints ?? []) {
    if (matches(point.attributes, attributes)) sum += point.value as number;
  }
  return sum;
}

/** The histogram point whose attributes include `attributes`. */
export function histogram(
  metric: MetricData | undefined,
  attributes: Record<string, unknown>,
): Histogram | undefined {
  return (metric as HistogramMetricData | undefined)?.dataPoints.find((point) =>
    matches(point.attributes, attributes),
  )?.value;
}

/** The latest gauge value whose attributes include `attributes`. */
export function gauge(
  metric: MetricData | undefined,
  attributes: Record<string, unknown>,
): number | undefined {
  return metric?.dataPoints.find((point) => matches(point.attributes, attributes))?.value as
    | number
    | undefined;
}

function matches(actual: Record<string, unknown>, expected: Record<string, unknown>): boolean {
  return Object.entries(expected).every(([key, value]) => actual[key] === value);
}

/** Every attribute value and event of every span, as text: what a secret must never be in. */
export function everythingRecorded(spans: readonly ReadableSpan[]): string {
  return JSON.stringify(
    spans.map((span) => ({
      name: span.name,
      attributes: span.attributes,
      events: span.events,
      status: span.status,
      links: span.links.map((link) => link.attributes ?? {}),
    })),
  );
}
