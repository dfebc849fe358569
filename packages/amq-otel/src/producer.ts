import type { TracingChannelSubscribers } from 'node:diagnostics_channel';
import {
  type Attributes,
  context,
  defaultTextMapSetter,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import type { SendEvent } from '@teal/amq-core';
import { ATTR_MESSAGING_MESSAGE_BODY_SIZE, routingKeyAttribute } from './attributes';
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
 * `teal:amq:send`: a PRODUCER span from `send()` to the broker's acceptance,
 * child of the context active at `send()`, whose context travels in the
 * message's headers; the sent counter and the send duration.
 */
export function sendSubscribers(telemetry: Telemetry): TracingChannelSubscribers<SendEvent> {
  const finish = (event: Ended<SendEvent>) => {
    const outcome = endOperation(telemetry, event);
    if (outcome === undefined) return;
    const { destination } = outcome.operation;
    telemetry.metrics.sent.add(1, withError(destination.sent, outcome.errorType));
    telemetry.metrics.operationDuration.record(
      outcome.seconds,
      withError(destination.sendDuration, outcome.errorType),
    );
  };
  return {
    start: (event) => {
      const destination = destinationOf(event.adapter, event.exchange);
      const attributes: Attributes = {
        ...destination.sendSpan,
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: event.bodyBytes,
      };
      // An OAuth2 state or a CIBA request id is close to a secret: only on request.
      if (telemetry.recordRoutingKey) {
        attributes[routingKeyAttribute(event.adapter)] = event.routingKey;
      }
      const parent = context.active();
      const span = telemetry.tracer.startSpan(
        `send ${event.exchange}`,
        { kind: SpanKind.PRODUCER, attributes },
        parent,
      );
      telemetry.propagator.inject(trace.setSpan(parent, span), event.headers, defaultTextMapSetter);
      telemetry.inFlight.set(event, { span, startedAt: performance.now(), destination });
    },
    // A send that threw before returning its promise gets no asyncEnd: it ends here.
    end: (event) => {
      if (hasFailed(event)) finish(event);
    },
    asyncStart: ignore,
    asyncEnd: finish,
    error: ignore,
  };
}
