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
  ATTR_MESSAGING_SYSTEM,
  ATTR_TEAL_HANDLER_ID,
  routingKeyAttribute,
} from './attributes';
import { rememberContext } from './contexts';
import { destinationOf } from './destinations';
import {
  type Ended,
  endOperation,
  hasFailed,
  ignore,
  type Telemetry,
  withError,
} from './telemetry';

/**
 * `teal:amq:deliver`: a CONSUMER span while the callback and listeners work
 * on a message, child of the sender's span (extracted from the headers) and
 * linked to it; the consumed counter, the end-to-end latency, the backlog,
 * and the processing duration.
 */
export function deliverSubscribers(telemetry: Telemetry): TracingChannelSubscribers<DeliverEvent> {
  const finish = (event: Ended<DeliverEvent>) => {
    const outcome = endOperation(telemetry, event);
    if (outcome === undefined) return;
    telemetry.metrics.processDuration.record(
      outcome.seconds,
      withError(outcome.operation.destination.consumed, outcome.errorType),
    );
  };
  return {
    start: (event) => {
      const destination = destinationOf(event.adapter, event.exchange);
      const attributes: Attributes = {
        ...destination.processSpan,
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: event.bodyBytes,
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
      telemetry.inFlight.set(event, { span, startedAt: performance.now(), destination });

      const { metrics } = telemetry;
      metrics.consumed.add(1, destination.consumed);
      // Clocks of two hosts differ: a message from the future arrived now.
      const latencyMs = Math.max(0, Date.now() - event.message.timestamp.getTime());
      metrics.latency.record(latencyMs / 1000, destination.where);
      if (telemetry.backlogs.get(event.handlerId) !== event.backlog) {
        telemetry.backlogs.set(event.handlerId, event.backlog);
        metrics.backlog.record(event.backlog, {
          [ATTR_MESSAGING_SYSTEM]: destination.system,
          [ATTR_TEAL_HANDLER_ID]: event.handlerId,
        });
      }
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
