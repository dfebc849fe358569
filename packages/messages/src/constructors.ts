import { assertMessage } from './codec';
import type {
  CallbackMessage,
  OpenIDCIBACallbackMessage,
  OpenIDCIBAPushError,
  OpenIDCIBAPushToken,
  PowensHMACSignature,
  PowensWebhookMessage,
} from './types';

/** Makes a `CallbackMessage`; `timestamp` defaults to now. Throws `MessageValidationError`. */
export function callbackMessage(fields: {
  url: string;
  state: string;
  timestamp?: Date;
}): CallbackMessage {
  const message: CallbackMessage = {
    kind: 'callback',
    timestamp: fields.timestamp ?? new Date(),
    url: fields.url,
    state: fields.state,
  };
  assertMessage(message);
  return message;
}

/** Makes an `OpenIDCIBACallbackMessage`; optionals default to `null`, `timestamp` to now. */
export function openIDCIBACallbackMessage(fields: {
  requestId: string;
  accessToken?: string | null;
  pushToken?: OpenIDCIBAPushToken | null;
  pushError?: OpenIDCIBAPushError | null;
  timestamp?: Date;
}): OpenIDCIBACallbackMessage {
  const message: OpenIDCIBACallbackMessage = {
    kind: 'openid_ciba_callback',
    timestamp: fields.timestamp ?? new Date(),
    requestId: fields.requestId,
    accessToken: fields.accessToken ?? null,
    pushToken: fields.pushToken ?? null,
    pushError: fields.pushError ?? null,
  };
  assertMessage(message);
  return message;
}

/** Makes a `PowensWebhookMessage`; optionals default to `null`, `timestamp` to now. */
export function powensWebhookMessage(fields: {
  domain: string;
  event: string;
  payload: string;
  hmacSignature?: PowensHMACSignature | null;
  userToken?: string | null;
  timestamp?: Date;
}): PowensWebhookMessage {
  const message: PowensWebhookMessage = {
    kind: 'powens_webhook',
    timestamp: fields.timestamp ?? new Date(),
    domain: fields.domain,
    event: fields.event,
    hmacSignature: fields.hmacSignature ?? null,
    userToken: fields.userToken ?? null,
    payload: fields.payload,
  };
  assertMessage(message);
  return message;
}
