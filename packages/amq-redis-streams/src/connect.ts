import { type AMQHandler, createHandler } from '@teal/amq-core/adapter';
import { parseSettings, type RedisStreamsConnectOptions } from './options';
import { RedisStreamsTransport } from './transport';

/**
 * Connects a handler to Redis (`redis://` or `rediss://`, `?cluster=true`
 * for a Redis Cluster) and resolves once its connection is up.
 */
export async function connect(options: RedisStreamsConnectOptions): Promise<AMQHandler> {
  const settings = parseSettings(options);
  return createHandler((context) => RedisStreamsTransport.open(settings, context), options);
}
