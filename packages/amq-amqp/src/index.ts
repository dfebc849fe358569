export { connect } from './connect';
export { AmqpConnectionError } from './errors';
export type { AmqpConnectOptions } from './options';
export {
  DEFAULT_HEARTBEAT_SECONDS,
  DEFAULT_PREFETCH,
  DEFAULT_QUEUE_EXPIRES_MS,
  DEFAULT_QUEUE_LINGER_MS,
  DEFAULT_RECONNECT_GRACE_MS,
} from './options';
export { MAX_ROUTING_KEY_BYTES } from './transport';
