export { connect } from './connect';
export { RedisStreamsConnectionError, RedisStreamsLagError } from './errors';
export { bucketOf, StreamKeys } from './keys';
export type { RedisStreamsConnectOptions, RedisStreamsOptions } from './options';
export { DEFAULTS as REDIS_STREAMS_DEFAULTS } from './options';
