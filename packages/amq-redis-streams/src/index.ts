export { RedisStreamsConnectionError } from './connection';
export { RedisStreamsLagError } from './consumer-gaps';
export { bucketOf, StreamKeys } from './names';
export type { RedisStreamsConnectOptions, RedisStreamsOptions } from './settings';
export { DEFAULTS as REDIS_STREAMS_DEFAULTS } from './settings';
export { connect } from './transport';
