import { AMQError } from '@teal/amq-core';

/** The package name, prefixed to every message this adapter writes. */
export const PACKAGE = '@teal/amq-redis-streams';

/** Redis could not be reached, or the connection to it failed. */
export class RedisStreamsConnectionError extends AMQError {
  override name = 'RedisStreamsConnectionError';
}
