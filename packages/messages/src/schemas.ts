import { z } from 'zod';
import { isWritableInstant, parseDatetime } from './datetime';

/** An ISO 8601 datetime on the wire; no offset means UTC. */
export const wireDatetime = z.string().transform((text, ctx) => {
  const date = parseDatetime(text);
  if (date === null) {
    ctx.addIssue({ code: 'custom', message: 'is not an ISO 8601 datetime' });
    return z.NEVER;
  }
  return date;
});

/** Optional on the wire: `null` or absent. Decoded as `null`. */
const wireOptionalString = z
  .string()
  .nullish()
  .transform((value) => value ?? null);

// A missing timestamp is accepted, as pydantic does: the original defaults it to now.
const wireTimestamp = wireDatetime.optional().transform((value) => value ?? new Date());

export const openIDCIBAPushTokenWire = z
  .object({
    access_token: z.string(),
    token_type: z.string(),
    refresh_token: z.string(),
    expires_at: wireDatetime,
    id_token: wireOptionalString,
  })
  .transform((wire) => ({
    accessToken: wire.access_token,
    tokenType: wire.token_type,
    refreshToken: wire.refresh_token,
    expiresAt: wire.expires_at,
    idToken: wire.id_token,
  }));

export const openIDCIBAPushErrorWire = z
  .object({ error: z.string(), error_description: wireOptionalString })
  .transform((wire) => ({ error: wire.error, errorDescription: wire.error_description }));

export const powensHMACSignatureWire = z
  .object({
    signature: z.string(),
    payload_prefix: z.string(),
    signature_date: wireDatetime.nullish(),
  })
  .transform((wire) => ({
    signature: wire.signature,
    payloadPrefix: wire.payload_prefix,
    signatureDate: wire.signature_date ?? null,
  }));

/** Wire schema of the `callbacks` exchange; parses to a `CallbackMessage`. */
export const callbackMessageWire = z
  .object({ timestamp: wireTimestamp, url: z.string(), state: z.string() })
  .transform((wire) => ({
    kind: 'callback' as const,
    timestamp: wire.timestamp,
    url: wire.url,
    state: wire.state,
  }));

/** Wire schema of the `openid_ciba_callbacks` exchange; parses to an `OpenIDCIBACallbackMessage`. */
export const openIDCIBACallbackMessageWire = z
  .object({
    timestamp: wireTimestamp,
    request_id: z.string(),
    access_token: wireOptionalString,
    push_token: openIDCIBAPushTokenWire.nullish(),
    push_error: openIDCIBAPushErrorWire.nullish(),
  })
  .transform((wire) => ({
    kind: 'openid_ciba_callback' as const,
    timestamp: wire.timestamp,
    requestId: wire.request_id,
    accessToken: wire.access_token,
    pushToken: wire.push_token ?? null,
    pushError: wire.push_error ?? null,
  }));

/** Wire schema of the `powens_domain_webhooks` exchange; parses to a `PowensWebhookMessage`. */
export const powensWebhookMessageWire = z
  .object({
    timestamp: wireTimestamp,
    domain: z.string(),
    event: z.string(),
    hmac_signature: powensHMACSignatureWire.nullish(),
    user_token: wireOptionalString,
    payload: z.string(),
  })
  .transform((wire) => ({
    kind: 'powens_webhook' as const,
    timestamp: wire.timestamp,
    domain: wire.domain,
    event: wire.event,
    hmacSignature: wire.hmac_signature ?? null,
    userToken: wire.user_token,
    payload: wire.payload,
  }));

// The TypeScript shape, checked by the constructors and before encoding.
const instant = z
  .date()
  .refine((date) => !Number.isNaN(date.getTime()), 'is an invalid Date')
  // Encoders write four-digit UTC years, which is all the Python original reads.
  .refine(isWritableInstant, 'must lie in UTC years 1 to 9999');
const optionalString = z.string().nullable();

export const openIDCIBAPushTokenShape = z.object({
  accessToken: z.string(),
  tokenType: z.string(),
  refreshToken: z.string(),
  expiresAt: instant,
  idToken: optionalString,
});

export const openIDCIBAPushErrorShape = z.object({
  error: z.string(),
  errorDescription: optionalString,
});

export const powensHMACSignatureShape = z.object({
  signature: z.string(),
  payloadPrefix: z.string(),
  signatureDate: instant.nullable(),
});

export const messageShapes = {
  callback: z.object({
    kind: z.literal('callback'),
    timestamp: instant,
    url: z.string(),
    state: z.string(),
  }),
  openid_ciba_callback: z.object({
    kind: z.literal('openid_ciba_callback'),
    timestamp: instant,
    requestId: z.string(),
    accessToken: optionalString,
    pushToken: openIDCIBAPushTokenShape.nullable(),
    pushError: openIDCIBAPushErrorShape.nullable(),
  }),
  powens_webhook: z.object({
    kind: z.literal('powens_webhook'),
    timestamp: instant,
    domain: z.string(),
    event: z.string(),
    hmacSignature: powensHMACSignatureShape.nullable(),
    userToken: optionalString,
    payload: z.string(),
  }),
} as const;

export const messageWires = {
  callback: callbackMessageWire,
  openid_ciba_callback: openIDCIBACallbackMessageWire,
  powens_webhook: powensWebhookMessageWire,
} as const;
