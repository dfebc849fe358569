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
import type { Destination } from './destinations';
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
  readonly destination: Destination;
}

/** What every channel subscriber of one `instrument()` shares. */
export interface Telemetry {
  readonly tracer: Tracer;
  readonly metrics: AmqMetrics;
  readonly propagator: Propagator;
  readonly recordRoutingKey: boolean;
  /** Operations begun and not yet ended, by their event: ended when instrumentation stops. */
  readonly inFlight: Map<object, Operation>;
  /** The backlog last recorded per handler: the gauge is recorded when it changes. */
  readonly backlogs: Map<string, number>;
}

/** An event as the tracing channel leaves it at its end: `error` is set when the operation failed. */
export type Ended<Event> = Event & { error?: unknown };

/** Whether the operation of an ended event failed (the tracing channel set its `error`). */
export function hasFailed(event: Ended<object>): boolean {
  return 'error' in event;
}

/** An operation once ended: how long it took, and the class of its error if it failed. */
export interface Outcome {
  readonly operation: Operation;
  readonly seconds: number;
  readonly errorType: string | undefined;
}

/**
 * Ends the operation's span, with an error status and `error.type` when it
 * failed; `undefined` when it was not in flight (begun before `instrument()`,
 * or already ended).
 */
export function endOperation(telemetry: Telemetry, event: Ended<object>): Outcome | undefined {
  const operation = telemetry.inFlight.get(event);
  if (operation === undefined) return undefined;
  telemetry.inFlight.delete(event);
  let errorType: string | undefined;
  if (hasFailed(event)) {
    errorType = errorTypeOf(event.error);
    operation.span.setAttribute(ATTR_ERROR_TYPE, errorType);
    // Core's errors say what failed without quoting keys, bodies or URL passwords.
    operation.span.setStatus({
      code: SpanStatusCode.ERROR,
      message: event.error instanceof Error ? event.error.message : errorType,
    });
  }
  operation.span.end();
  return { operation, seconds: (performance.now() - operation.startedAt) / 1000, errorType };
}

/** The attributes of a metric, with `error.type` when the operation failed. */
export function withError(attributes: Attributes, errorType: string | undefined): Attributes {
  return errorType === undefined ? attributes : { ...attributes, [ATTR_ERROR_TYPE]: errorType };
}

/** Subscriber slots a tracing channel calls that an operation does not need. */
export function ignore(): void {}
