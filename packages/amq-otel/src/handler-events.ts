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
import { ignore, type Telemetry } from './telemetry';

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
 * `teal:amq:connection`: the reconnect counter — a handler starts connected,
 * so every `connected` event is a connection restored — and, when a handler
 * closes, its backlog and bindings gauges back to zero.
 */
export function onConnection(telemetry: Telemetry): (message: unknown) => void {
  const { metrics } = telemetry;
  return (message) => {
    const event = message as ConnectionEvent;
    const system = messagingSystemOf(event.adapter);
    if (event.state === 'connected') {
      metrics.reconnects.add(1, { [ATTR_MESSAGING_SYSTEM]: system });
    } else if (event.state === 'closed') {
      const where = { [ATTR_MESSAGING_SYSTEM]: system, [ATTR_TEAL_HANDLER_ID]: event.handlerId };
      metrics.bindings.record(0, where);
      if (telemetry.backlogs.delete(event.handlerId)) metrics.backlog.record(0, where);
    }
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
