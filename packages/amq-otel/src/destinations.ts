import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_TEAL_ADAPTER,
  messagingSystemOf,
} from './attributes';

/**
 * The attributes of everything recorded about one exchange of one adapter,
 * built once: a message reuses them instead of building six objects, which
 * the metrics SDK would then hash again. Never mutated.
 */
export interface Destination {
  readonly system: string;
  /** Of `send <exchange>` spans. */
  readonly sendSpan: Attributes;
  /** Of the sent counter. */
  readonly sent: Attributes;
  /** Of the send duration: the sent counter's, and the operation type. */
  readonly sendDuration: Attributes;
  /** Of `process <exchange>` spans. */
  readonly processSpan: Attributes;
  /** Of the consumed counter and the processing duration. */
  readonly consumed: Attributes;
  /** Of the end-to-end latency and the dropped counter. */
  readonly where: Attributes;
}

// Adapters × three exchanges: a handful of entries per process.
const destinations = new Map<string, Destination>();

export function destinationOf(adapter: string, exchange: string): Destination {
  const id = `${adapter}\u0000${exchange}`;
  let destination = destinations.get(id);
  if (destination === undefined) {
    destination = build(adapter, exchange);
    destinations.set(id, destination);
  }
  return destination;
}

function build(adapter: string, exchange: string): Destination {
  const system = messagingSystemOf(adapter);
  const where = freeze({
    [ATTR_MESSAGING_SYSTEM]: system,
    [ATTR_MESSAGING_DESTINATION_NAME]: exchange,
  });
  const operation = (name: 'send' | 'process') => ({
    ...where,
    [ATTR_MESSAGING_OPERATION_NAME]: name,
  });
  const span = (name: 'send' | 'process') =>
    freeze({
      ...operation(name),
      [ATTR_MESSAGING_OPERATION_TYPE]: name,
      [ATTR_TEAL_ADAPTER]: adapter,
    });
  return {
    system,
    sendSpan: span('send'),
    sent: freeze(operation('send')),
    sendDuration: freeze({ ...operation('send'), [ATTR_MESSAGING_OPERATION_TYPE]: 'send' }),
    processSpan: span('process'),
    consumed: freeze(operation('process')),
    where,
  };
}

function freeze(attributes: Attributes): Attributes {
  return Object.freeze(attributes);
}
