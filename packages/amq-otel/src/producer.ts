import type { TracingChannelSubscribers } from 'node:diagnostics_channel';
import {
  type Attributes,
  context,
  defaultTextMapSetter,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import type { SendEvent } from '@teal/amq-core';
import {
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_TEAL_ADAPTER,
  destinationAttributes,
  routingKeyAttribute,
} from './attributes';
import { type Ended, endOperation, hasFailed, ignore, type Telemetry } from './telemetry';

/**
 * `teal:amq:send`: a PRODUCER span from `send()` to the broker's acceptance,
 * child of the context active at `send()`, whose context travels in the
 * message's headers; the sent counter and the send duration.
 */
export function sendSubscribers(telemetry: Telemetry): TracingChannelSubscribers<SendEvent> {
  const finish = (event: Ended<SendEvent>) => {
    const attributes = { ...destinationAttributes(event), [ATTR_MESSAGING_OPERATION_NAME]: 'send' };
    const seconds = endOperation(telemetry, event, attributes);
    if (seconds === undefined) return;
    telemetry.metrics.sent.add(1, attributes);
    telemetry.metrics.operationDuration.record(seconds, {
      ...attributes,
      [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
    });
  };
  return {
    start: (event) => {
      const attributes: Attributes = {
        ...destinationAttributes(event),
        [ATTR_MESSAGING_OPERATION_NAME]: 'send',
        [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: event.bodyBytes,
        [ATTR_TEAL_ADAPTER]: event.adapter,
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
      telemetry.inFlight.set(event, { span, startedAt: performance.now() });
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
