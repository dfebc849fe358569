import { assertMessage } from './codec';
import type {
  CallbackMessage,
  OpenIDCIBACallbackMessage,
  OpenIDCIBAPushError,
  OpenIDCIBAPushToken,
  PowensHMACSignature,
  PowensWebhookMessage,
} from './types';

// Optional fields also take `undefined`, so that callers with
// `exactOptionalPropertyTypes` can forward a value that may be missing.

/** Makes a `CallbackMessage`; `timestamp` defaults to now. Throws `MessageValidationError`. */
export function callbackMessage(fields: {
  url: string;
  state: string;
  timestamp?: Date | undefined;
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
  accessToken?: string | null | undefined;
  pushToken?: OpenIDCIBAPushToken | null | undefined;
  pushError?: OpenIDCIBAPushError | null | undefined;
  timestamp?: Date | undefined;
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
  hmacSignature?: PowensHMACSignature | null | undefined;
  userToken?: string | null | undefined;
  timestamp?: Date | undefined;
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
