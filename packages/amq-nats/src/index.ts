export { connect } from './connect';
export { decodeToken, encodeToken, SubjectTokenError } from './names';
export { CHUNK_HEADER, NatsMessageTooLargeError } from './publisher-chunks';
export type { NatsConnectOptions, NatsMode, NatsOptions } from './settings';
export { MAX_ROUTING_KEY_BYTES } from './transport';
export { NatsUnconfirmedSendError } from './transport-core';
