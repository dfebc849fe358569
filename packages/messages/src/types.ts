/** Token data of an OpenID CIBA push-mode callback. */
export interface OpenIDCIBAPushToken {
  accessToken: string;
  tokenType: string;
  refreshToken: string;
  /** When the access token expires. */
  expiresAt: Date;
  idToken: string | null;
}

/** Error data of an OpenID CIBA push-mode error callback. */
export interface OpenIDCIBAPushError {
  /** The error code, for example `access_denied`. */
  error: string;
  errorDescription: string | null;
}

/**
 * What a Powens webhook signer sent: the `BI-Signature` header, the prefix the
 * signature covers before the payload, and the parsed `BI-Signature-Date`.
 */
export interface PowensHMACSignature {
  /** The `BI-Signature` header: base64 of HMAC-SHA256(secret, payloadPrefix + payload). */
  signature: string;
  /** `METHOD + "." + PATH + "." + RAW_DATE + "."`. */
  payloadPrefix: string;
  signatureDate: Date | null;
}

/** An OAuth2 redirect reached the listener. Bound by `state`. */
export interface CallbackMessage {
  readonly kind: 'callback';
  /** When the message was made. */
  timestamp: Date;
  /** The full callback URL, query and fragment included. */
  url: string;
  state: string;
}

/** An OpenID CIBA ping or push notification. Bound by `requestId`. */
export interface OpenIDCIBACallbackMessage {
  readonly kind: 'openid_ciba_callback';
  timestamp: Date;
  /** The authentication request identifier (`auth_req_id`). */
  requestId: string;
  /** The bearer token that authenticated the ping/push call. */
  accessToken: string | null;
  pushToken: OpenIDCIBAPushToken | null;
  pushError: OpenIDCIBAPushError | null;
}

/** A Powens webhook. Bound by `domain`. */
export interface PowensWebhookMessage {
  readonly kind: 'powens_webhook';
  timestamp: Date;
  /** The Powens domain, for example `example.biapi.pro`. */
  domain: string;
  /** The webhook event, for example `USER_CREATED`. */
  event: string;
  hmacSignature: PowensHMACSignature | null;
  userToken: string | null;
  /** The raw UTF-8 request body, unparsed: signatures are computed over it. */
  payload: string;
}

export type Message = CallbackMessage | OpenIDCIBACallbackMessage | PowensWebhookMessage;

export type MessageKind = Message['kind'];

/** The message type of one kind. */
export type MessageOfKind<K extends MessageKind> = Extract<Message, { kind: K }>;

/** Every message kind, in a stable order. */
export const MESSAGE_KINDS: readonly MessageKind[] = Object.freeze([
  'callback',
  'openid_ciba_callback',
  'powens_webhook',
]);
