import type { OpenIDCIBAPushError, OpenIDCIBAPushToken } from '@teal/messages';

const text = { type: 'string', minLength: 1, maxLength: 65_536 } as const;

/** The three CIBA notification bodies; extra fields are refused. */
export const cibaBodySchema = {
  oneOf: [
    {
      type: 'object',
      required: ['auth_req_id'],
      additionalProperties: false,
      properties: { auth_req_id: text },
    },
    {
      type: 'object',
      required: ['auth_req_id', 'access_token', 'token_type', 'refresh_token', 'expires_in'],
      additionalProperties: false,
      properties: {
        auth_req_id: text,
        access_token: text,
        token_type: text,
        refresh_token: text,
        // At most ten years: the expiry date must stay writable.
        expires_in: { type: 'integer', minimum: 0, maximum: 315_360_000 },
        id_token: text,
      },
    },
    {
      type: 'object',
      required: ['auth_req_id', 'error'],
      additionalProperties: false,
      properties: {
        auth_req_id: text,
        error: text,
        error_description: { type: 'string', maxLength: 65_536 },
      },
    },
  ],
} as const;

export const CIBA_BODY_ERROR =
  'The body must be exactly one of the CIBA ping {auth_req_id}, push token ' +
  '{auth_req_id, access_token, token_type, refresh_token, expires_in, id_token} ' +
  'or push error {auth_req_id, error, error_description} payloads, with no other field.';

/** A CIBA notification body that passed `cibaBodySchema`. */
export interface CibaBody {
  auth_req_id: string;
  access_token?: string;
  token_type?: string;
  refresh_token?: string;
  expires_in?: number;
  id_token?: string;
  error?: string;
  error_description?: string;
}

/** The push token of a push-mode body, expiring `expires_in` seconds from `now`. */
export function pushTokenOf(body: CibaBody, now: Date): OpenIDCIBAPushToken | null {
  if (body.access_token === undefined || body.expires_in === undefined) return null;
  return {
    accessToken: body.access_token,
    tokenType: body.token_type ?? '',
    refreshToken: body.refresh_token ?? '',
    expiresAt: new Date(now.getTime() + body.expires_in * 1000),
    idToken: body.id_token ?? null,
  };
}

/** The push error of a push-mode error body. */
export function pushErrorOf(body: CibaBody): OpenIDCIBAPushError | null {
  if (body.error === undefined) return null;
  return { error: body.error, errorDescription: body.error_description ?? null };
}
