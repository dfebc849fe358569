import { type AMQHandler, createHandler } from '@teal/amq-core/adapter';
import { type AmqpConnectOptions, resolveSettings } from './options';
import { AmqpTransport } from './transport';

/**
 * Connects a handler to RabbitMQ. Resolves once the exchanges and the
 * handler's queue are declared and its consumer runs; rejects with an
 * `AmqpConnectionError` (password masked) when the broker cannot be reached.
 */
export async function connect(options: AmqpConnectOptions): Promise<AMQHandler> {
  const settings = resolveSettings(options);
  return createHandler((context) => AmqpTransport.open(settings, context), options);
}
