import * as diagnostics from 'node:diagnostics_channel';
import {
  type MeterProvider,
  metrics,
  propagation,
  type TextMapPropagator,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { DIAGNOSTICS_CHANNELS } from '@teal/amq-core';
import { deliverSubscribers } from './consumer';
import { AMQAlreadyInstrumentedError } from './errors';
import { bindingSubscribers, onConnection, onDrop } from './handler-events';
import { createMetrics } from './metrics';
import { sendSubscribers } from './producer';
import type { Telemetry } from './telemetry';

/** How `instrument()` records; every member is optional. */
export interface InstrumentOptions {
  /** Where spans go; the global tracer provider by default. */
  readonly tracerProvider?: TracerProvider;
  /**
   * Where metrics go; the global meter provider by default, read when
   * `instrument()` is called: start the OpenTelemetry SDK first.
   */
  readonly meterProvider?: MeterProvider;
  /** Injects and extracts the trace context of messages; the global propagator by default. */
  readonly propagator?: TextMapPropagator;
  /**
   * Records each message's routing key on its spans (never on metrics).
   * Off by default: an OAuth2 state or a CIBA request id is close to a secret.
   */
  readonly recordRoutingKey?: boolean;
}

/** Stops the instrumentation: unsubscribes, ends the spans still open. Safe to call twice. */
export type Uninstrument = () => void;

/** The instrumentation scope of every span and metric. */
export const INSTRUMENTATION_SCOPE = '@teal/amq-otel';

// Shared by the ES module and CommonJS copies of the package: two active
// instrumentations would inject two trace contexts into one message.
const ACTIVE = Symbol.for('@teal/amq-otel.active');

/**
 * Turns the `teal:amq:*` diagnostics events of every handler of the process
 * into OpenTelemetry spans and metrics (messaging semantic conventions).
 * Throws `AMQAlreadyInstrumentedError` while an earlier call is active.
 */
export function instrument(options: InstrumentOptions = {}): Uninstrument {
  const holder = globalThis as { [ACTIVE]?: boolean };
  if (holder[ACTIVE] === true) {
    throw new AMQAlreadyInstrumentedError(
      '[@teal/amq-otel] instrument() is already active in this process: call the function the first call returned before instrumenting again',
    );
  }
  const meterProvider = options.meterProvider ?? metrics.getMeterProvider();
  const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
  const telemetry: Telemetry = {
    tracer: tracerProvider.getTracer(INSTRUMENTATION_SCOPE),
    metrics: createMetrics(meterProvider.getMeter(INSTRUMENTATION_SCOPE)),
    propagator: options.propagator ?? propagation,
    recordRoutingKey: options.recordRoutingKey === true,
    inFlight: new Map(),
    backlogs: new Map(),
  };
  const undo = [
    subscribeTracing(DIAGNOSTICS_CHANNELS.send, sendSubscribers(telemetry)),
    subscribeTracing(DIAGNOSTICS_CHANNELS.deliver, deliverSubscribers(telemetry)),
    subscribeTracing(DIAGNOSTICS_CHANNELS.bind, bindingSubscribers(telemetry.metrics)),
    subscribeTracing(DIAGNOSTICS_CHANNELS.unbind, bindingSubscribers(telemetry.metrics)),
    subscribe(DIAGNOSTICS_CHANNELS.drop, onDrop(telemetry.metrics)),
    subscribe(DIAGNOSTICS_CHANNELS.connection, onConnection(telemetry)),
  ];
  holder[ACTIVE] = true;
  let isActive = true;
  return () => {
    if (!isActive) return;
    isActive = false;
    for (const unsubscribe of undo) unsubscribe();
    // Their end will never be heard now: end them rather than leak them.
    for (const { span } of telemetry.inFlight.values()) span.end();
    telemetry.inFlight.clear();
    holder[ACTIVE] = false;
  };
}

function subscribeTracing<Event extends object>(
  name: string,
  subscribers: diagnostics.TracingChannelSubscribers<Event>,
): () => void {
  const channel = diagnostics.tracingChannel<unknown, Event>(name);
  channel.subscribe(subscribers);
  return () => channel.unsubscribe(subscribers);
}

function subscribe(name: string, listener: (message: unknown) => void): () => void {
  diagnostics.subscribe(name, listener);
  return () => diagnostics.unsubscribe(name, listener);
}
