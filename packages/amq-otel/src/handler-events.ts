import type { TracingChannelSubscribers } from 'node:diagnostics_channel';
import type { BindingEvent, ConnectionEvent, DropEvent } from '@teal/amq-core';
import {
  ATTR_MESSAGING_SYSTEM,
  ATTR_TEAL_DROP_REASON,
  ATTR_TEAL_HANDLER_ID,
  messagingSystemOf,
} from './attributes';
import { destinationOf } from './destinations';
import type { AmqMetrics } from './metrics';
import { ignore } from './telemetry';

/** `teal:amq:drop`: the dropped counter, by reason (undecodable, unbound, overflow). */
export function onDrop(metrics: AmqMetrics): (message: unknown) => void {
  return (message) => {
    const event = message as DropEvent;
    metrics.dropped.add(1, {
      ...destinationOf(event.adapter, event.exchange).where,
      [ATTR_TEAL_DROP_REASON]: event.reason,
    });
  };
}

/**
 * `teal:amq:connection`: the reconnect counter. A handler starts connected,
 * so every `connected` event is a connection restored.
 */
export function onConnection(metrics: AmqMetrics): (message: unknown) => void {
  return (message) => {
    const event = message as ConnectionEvent;
    if (event.state !== 'connected') return;
    metrics.reconnects.add(1, { [ATTR_MESSAGING_SYSTEM]: messagingSystemOf(event.adapter) });
  };
}

/**
 * `teal:amq:bind` and `teal:amq:unbind`: the bindings gauge, from the count
 * each event carries (the keys held once the operation is asked for).
 */
export function bindingSubscribers(metrics: AmqMetrics): TracingChannelSubscribers<BindingEvent> {
  return {
    start: (event) => {
      metrics.bindings.record(event.bindings, {
        [ATTR_MESSAGING_SYSTEM]: messagingSystemOf(event.adapter),
        [ATTR_TEAL_HANDLER_ID]: event.handlerId,
      });
    },
    end: ignore,
    asyncStart: ignore,
    asyncEnd: ignore,
    error: ignore,
  };
}
