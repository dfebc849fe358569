export { NatsConnectionError } from './connection';
export { decodeToken, encodeToken, MAX_ROUTING_KEY_BYTES, SubjectTokenError } from './names';
export { CHUNK_HEADER, NatsMessageTooLargeError } from './publisher-chunks';
export type { NatsConnectOptions, NatsMode, NatsOptions } from './settings';
export {
  DEFAULT_CHUNK_TIMEOUT_MS,
  DEFAULT_DUPLICATE_WINDOW_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_STREAM_MAX_AGE_MS,
  DEFAULT_STREAM_MAX_BYTES,
  DEFAULT_SUBJECT_ROOT,
} from './settings';
export { connect } from './transport';
