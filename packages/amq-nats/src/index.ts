export { MAX_ROUTING_KEY_BYTES } from './base';
export { CHUNK_HEADER, NatsMessageTooLargeError } from './chunks';
export { connect } from './connect';
export { NatsUnconfirmedSendError } from './core-transport';
export type { NatsConnectOptions, NatsMode, NatsOptions } from './settings';
export { decodeToken, encodeToken, SubjectTokenError } from './subjects';
