export { assertMessage, decodeMessage, encodeMessage, routingKeyOf } from './codec';
export { callbackMessage, openIDCIBACallbackMessage, powensWebhookMessage } from './constructors';
export { formatDatetime, parseDatetime } from './datetime';
export { MessageDecodeError, MessageValidationError, PowensSignatureError } from './errors';
export type {
  HeadersLike,
  PowensVerification,
  PowensVerificationFailure,
  PowensVerifyOptions,
} from './powens';
export {
  computePowensSignature,
  DEFAULT_POWENS_MAX_AGE_MS,
  DEFAULT_POWENS_MAX_FUTURE_SKEW_MS,
  powensHMACSignatureFromRequest,
  verifyPowensWebhook,
} from './powens';
export {
  callbackMessageWire,
  openIDCIBACallbackMessageWire,
  openIDCIBAPushErrorWire,
  openIDCIBAPushTokenWire,
  powensHMACSignatureWire,
  powensWebhookMessageWire,
} from './schemas';
export type {
  CallbackMessage,
  Message,
  MessageKind,
  MessageOfKind,
  OpenIDCIBACallbackMessage,
  OpenIDCIBAPushError,
  OpenIDCIBAPushToken,
  PowensHMACSignature,
  PowensWebhookMessage,
} from './types';
export { MESSAGE_KINDS } from './types';
