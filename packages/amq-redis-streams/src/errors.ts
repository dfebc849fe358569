import { AMQError } from '@teal/amq-core/adapter';

/** The package name, prefixed to every message this adapter writes. */
export const PACKAGE = '@teal/amq-redis-streams';

/** Redis could not be reached, or the connection to it failed. */
export class RedisStreamsConnectionError extends AMQError {
  override name = 'RedisStreamsConnectionError';
}

/**
 * A reader fell so far behind that its stream was trimmed (by `maxLength`)
 * past entries it had not read: messages were, or are about to be, lost.
 */
export class RedisStreamsLagError extends AMQError {
  override name = 'RedisStreamsLagError';
}
