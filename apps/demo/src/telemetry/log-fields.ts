import { context, isSpanContextValid, trace } from '@opentelemetry/api';

/**
 * The active span's ids, named as the OpenTelemetry log data model's
 * `trace_id` and `span_id`, so a log line leads to its trace; none outside a span.
 */
export function activeSpanFields(): Record<string, string> {
  const spanContext = trace.getSpan(context.active())?.spanContext();
  // A new object each time: pino merges the record's own fields into it.
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return {};
  return {
    trace_id: spanContext.traceId,
    span_id: spanContext.spanId,
    trace_flags: `0${spanContext.traceFlags.toString(16)}`.slice(-2),
  };
}
