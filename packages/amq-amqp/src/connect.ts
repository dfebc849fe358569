import { type AMQHandler, createHandler } from '@teal/amq-core';
import { type AmqpConnectOptions, resolveSettings } from './options';
import { AmqpTransport } from './transport';

const transports = new WeakMap<AMQHandler, AmqpTransport>();

/**
 * Connects a handler to RabbitMQ. Resolves once the exchanges and the
 * handler's queue are declared and its consumer runs; rejects with an
 * `AmqpConnectionError` (password masked) when the broker cannot be reached.
 */
export async function connect(options: AmqpConnectOptions): Promise<AMQHandler> {
  const settings = resolveSettings(options);
  let transport: AmqpTransport | undefined;
  const handler = await createHandler(async (context) => {
    transport = await AmqpTransport.open(settings, context);
    return transport;
  }, options);
  transports.set(handler, transport!);
  return handler;
}

/** The transport behind a handler made by this package's `connect()` (for tests). */
export function amqpTransportOf(handler: AMQHandler): AmqpTransport {
  const transport = transports.get(handler);
  if (transport === undefined) {
    throw new TypeError('[@teal/amq-amqp] not a handler made by connect() of @teal/amq-amqp');
  }
  return transport;
}
