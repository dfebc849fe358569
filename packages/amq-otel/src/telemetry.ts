import {
  type Attributes,
  type Context,
  type Span,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, errorTypeOf } from './attributes';
import type { AmqMetrics } from './metrics';

/** What `propagation` (the global propagator) and a `TextMapPropagator` have in common. */
export interface Propagator {
  inject<Carrier>(context: Context, carrier: Carrier, setter?: TextMapSetter<Carrier>): void;
  extract<Carrier>(context: Context, carrier: Carrier, getter?: TextMapGetter<Carrier>): Context;
}

/** A span begun at an operation's `start`, waiting for its end. */
export interface Operation {
  readonly span: Span;
  /** `performance.now()` at start, for the duration histograms. */
  readonly startedAt: number;
}

/** What every channel subscriber of one `instrument()` shares. */
export interface Telemetry {
  readonly tracer: Tracer;
  readonly metrics: AmqMetrics;
  readonly propagator: Propagator;
  readonly recordRoutingKey: boolean;
  /** Operations begun and not yet ended, by their event: ended when instrumentation stops. */
  readonly inFlight: Map<object, Operation>;
}

/** An event as the tracing channel leaves it at its end: `error` is set when the operation failed. */
export type Ended<Event> = Event & { error?: unknown };

/** Whether the operation of an ended event failed (the tracing channel set its `error`). */
export function hasFailed(event: Ended<object>): boolean {
  return 'error' in event;
}

/**
 * Ends the operation's span, with an error status and `error.type` when it
 * failed, and returns its duration in seconds, or `undefined` when it was
 * not in flight (begun before `instrument()`, or already ended).
 */
export function endOperation(
  telemetry: Telemetry,
  event: Ended<object>,
  metricAttributes: Attributes,
): number | undefined {
  const operation = telemetry.inFlight.get(event);
  if (operation === undefined) return undefined;
  telemetry.inFlight.delete(event);
  if (hasFailed(event)) {
    const errorType = errorTypeOf(event.error);
    metricAttributes[ATTR_ERROR_TYPE] = errorType;
    operation.span.setAttribute(ATTR_ERROR_TYPE, errorType);
    // Core's errors say what failed without quoting keys, bodies or URL passwords.
    operation.span.setStatus({
      code: SpanStatusCode.ERROR,
      message: event.error instanceof Error ? event.error.message : errorType,
    });
  }
  operation.span.end();
  return (performance.now() - operation.startedAt) / 1000;
}

/** Subscriber slots a tracing channel calls that an operation does not need. */
export function ignore(): void {}
