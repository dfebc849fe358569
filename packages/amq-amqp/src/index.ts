export { AmqpConnectionError } from './connection';
export { MAX_ROUTING_KEY_BYTES } from './names';
export type { AmqpConnectOptions } from './settings';
export {
  DEFAULT_HEARTBEAT_SECONDS,
  DEFAULT_PREFETCH,
  DEFAULT_QUEUE_EXPIRES_MS,
  DEFAULT_QUEUE_LINGER_MS,
  DEFAULT_RECONNECT_GRACE_MS,
} from './settings';
export { connect } from './transport';
