import type { Counter, Gauge, Histogram, Meter } from '@opentelemetry/api';

/**
 * The bucket boundaries the messaging conventions advise for
 * `messaging.client.operation.duration`, in seconds; the other durations
 * share them so that dashboards compare like with like.
 */
const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** Every instrument `instrument()` records with. */
export interface AmqMetrics {
  /** `messaging.client.sent.messages`: sends attempted, with `error.type` on failure. */
  readonly sent: Counter;
  /** `messaging.client.consumed.messages`: messages handed to the callback and listeners. */
  readonly consumed: Counter;
  /** `messaging.client.operation.duration`: from `send()` to the broker's acceptance. */
  readonly operationDuration: Histogram;
  /** `messaging.process.duration`: the callback and listeners at work on one message. */
  readonly processDuration: Histogram;
  /** `teal.amq.message.latency`: from the listener making the message to its delivery. */
  readonly latency: Histogram;
  /** `teal.amq.dropped.messages`: received messages that reached no one, by reason. */
  readonly dropped: Counter;
  /** `teal.amq.connection.reconnects`: connections restored after a loss. */
  readonly reconnects: Counter;
  /** `teal.amq.backlog`: messages waiting for a handler's callback. */
  readonly backlog: Gauge;
  /** `teal.amq.bindings`: keys a handler holds on the broker. */
  readonly bindings: Gauge;
}

/** The semantic conventions' names where they exist, `teal.amq.*` for the rest. */
export function createMetrics(meter: Meter): AmqMetrics {
  const advice = { explicitBucketBoundaries: DURATION_BUCKETS };
  return {
    sent: meter.createCounter('messaging.client.sent.messages', {
      description: 'Number of messages producer attempted to send to the broker.',
      unit: '{message}',
    }),
    consumed: meter.createCounter('messaging.client.consumed.messages', {
      description: 'Number of messages that were delivered to the application.',
      unit: '{message}',
    }),
    operationDuration: meter.createHistogram('messaging.client.operation.duration', {
      description: 'Duration of messaging operation initiated by a producer or consumer client.',
      unit: 's',
      advice,
    }),
    processDuration: meter.createHistogram('messaging.process.duration', {
      description: 'Duration of processing operation.',
      unit: 's',
      advice,
    }),
    latency: meter.createHistogram('teal.amq.message.latency', {
      description:
        'Time from the message timestamp (set by the sender) to its delivery to the handler; clocks of two hosts may differ.',
      unit: 's',
      advice,
    }),
    dropped: meter.createCounter('teal.amq.dropped.messages', {
      description: 'Received messages that reached no callback or listener, by reason.',
      unit: '{message}',
    }),
    reconnects: meter.createCounter('teal.amq.connection.reconnects', {
      description: 'Broker connections restored after a loss.',
      unit: '{reconnect}',
    }),
    backlog: meter.createGauge('teal.amq.backlog', {
      description: 'Messages waiting behind the one being delivered to a handler.',
      unit: '{message}',
    }),
    bindings: meter.createGauge('teal.amq.bindings', {
      description: 'Keys a handler holds bound on the broker.',
      unit: '{binding}',
    }),
  };
}
