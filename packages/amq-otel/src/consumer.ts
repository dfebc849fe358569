import type { TracingChannelSubscribers } from 'node:diagnostics_channel';
import {
  type Attributes,
  context,
  defaultTextMapGetter,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import type { DeliverEvent } from '@teal/amq-core';
import {
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_TEAL_ADAPTER,
  ATTR_TEAL_HANDLER_ID,
  destinationAttributes,
  messagingSystemOf,
  routingKeyAttribute,
} from './attributes';
import { rememberContext } from './contexts';
import { type Ended, endOperation, hasFailed, ignore, type Telemetry } from './telemetry';

/**
 * `teal:amq:deliver`: a CONSUMER span while the callback and listeners work
 * on a message, child of the sender's span (extracted from the headers) and
 * linked to it; the consumed counter, the end-to-end latency, the backlog,
 * and the processing duration.
 */
export function deliverSubscribers(telemetry: Telemetry): TracingChannelSubscribers<DeliverEvent> {
  const finish = (event: Ended<DeliverEvent>) => {
    const attributes = {
      ...destinationAttributes(event),
      [ATTR_MESSAGING_OPERATION_NAME]: 'process',
    };
    const seconds = endOperation(telemetry, event, attributes);
    if (seconds === undefined) return;
    telemetry.metrics.processDuration.record(seconds, attributes);
  };
  return {
    start: (event) => {
      const destination = destinationAttributes(event);
      const attributes: Attributes = {
        ...destination,
        [ATTR_MESSAGING_OPERATION_NAME]: 'process',
        [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: event.bodyBytes,
        [ATTR_TEAL_ADAPTER]: event.adapter,
      };
      if (telemetry.recordRoutingKey) {
        attributes[routingKeyAttribute(event.adapter)] = event.routingKey;
      }
      const { parent, links } = parentOf(telemetry, event);
      const span = telemetry.tracer.startSpan(
        `process ${event.exchange}`,
        { kind: SpanKind.CONSUMER, attributes, links },
        parent,
      );
      rememberContext(event.message, trace.setSpan(parent, span));
      telemetry.inFlight.set(event, { span, startedAt: performance.now() });

      const { metrics } = telemetry;
      metrics.consumed.add(1, { ...destination, [ATTR_MESSAGING_OPERATION_NAME]: 'process' });
      // Clocks of two hosts differ: a message from the future arrived now.
      const latencyMs = Math.max(0, Date.now() - event.message.timestamp.getTime());
      metrics.latency.record(latencyMs / 1000, destination);
      metrics.backlog.record(event.backlog, {
        [ATTR_MESSAGING_SYSTEM]: messagingSystemOf(event.adapter),
        [ATTR_TEAL_HANDLER_ID]: event.handlerId,
      });
    },
    end: (event) => {
      if (hasFailed(event)) finish(event);
    },
    asyncStart: ignore,
    asyncEnd: finish,
    error: ignore,
  };
}

/**
 * The sender's context as parent, and a link to it (the conventions' way to
 * correlate a producer and its consumers); when the message came without
 * one (a sender without instrumentation), the context active here. A valid
 * active context that is not the parent is linked too, as the conventions ask.
 */
function parentOf(telemetry: Telemetry, event: DeliverEvent) {
  const active = context.active();
  const creation = telemetry.propagator.extract(ROOT_CONTEXT, event.headers, defaultTextMapGetter);
  const sender = trace.getSpanContext(creation);
  if (sender === undefined || !isSpanContextValid(sender)) return { parent: active, links: [] };
  const links: Link[] = [{ context: sender }];
  const ambient = trace.getSpanContext(active);
  if (ambient !== undefined && isSpanContextValid(ambient) && ambient.spanId !== sender.spanId) {
    links.push({ context: ambient });
  }
  return { parent: creation, links };
}
