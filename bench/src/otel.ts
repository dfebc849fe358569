import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { instrument } from '@teal/amq-otel';

/** Collected only on demand, as a Prometheus scrape would: recording is what the run pays for. */
class ScrapeReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/**
 * What an application with OpenTelemetry runs: the real SDK with its
 * context manager, the W3C propagator, batched spans (exported nowhere) and
 * metrics, and `@teal/amq-otel` instrumenting every handler. Resolves to
 * the function that undoes all of it.
 */
export function startOtel(): () => Promise<void> {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [
      new BatchSpanProcessor({
        export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
        shutdown: async () => {},
      }),
    ],
  });
  const meterProvider = new MeterProvider({ readers: [new ScrapeReader()] });
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const uninstrument = instrument();
  return async () => {
    uninstrument();
    await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    trace.disable();
    metrics.disable();
    propagation.disable();
    context.disable();
  };
}
