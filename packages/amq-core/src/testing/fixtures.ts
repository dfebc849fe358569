import {
  callbackMessage,
  type Message,
  openIDCIBACallbackMessage,
  powensWebhookMessage,
} from '@teal/messages';

const at = new Date('2023-06-01T12:34:56.789Z');

/**
 * One message per golden vector of the Python original (shared/vectors), as
 * the codec decodes them: each kind, null and non-null optionals, unicode.
 */
export function goldenMessages(): Array<{ name: string; message: Message }> {
  const transactions = Array.from({ length: 3_000 }, (_, id) => ({
    id,
    wording: `PRLV SEPA ${'x'.repeat(40)}`,
    value: -id / 100,
  }));
  return [
    {
      name: 'callback-basic',
      message: callbackMessage({
        timestamp: at,
        url: 'https://events.example.org/callback?state=abc123&code=xyz',
        state: 'abc123',
      }),
    },
    {
      name: 'callback-fragment-unicode',
      message: callbackMessage({
        timestamp: new Date('2024-02-29T00:00:00Z'),
        url: 'https://example.org/cb#state=%C3%A9tat&access_token=t0k',
        state: 'état/½ ☃',
      }),
    },
    {
      name: 'ciba-ping',
      message: openIDCIBACallbackMessage({
        timestamp: at,
        requestId: 'req-1',
        accessToken: 'notif-token-1',
      }),
    },
    {
      name: 'ciba-push-token',
      message: openIDCIBACallbackMessage({
        timestamp: at,
        requestId: 'req-2',
        accessToken: 'notif-2',
        pushToken: {
          accessToken: 'at',
          tokenType: 'Bearer',
          refreshToken: 'rt',
          expiresAt: new Date('2023-06-01T13:34:56.789Z'),
          idToken: 'eyJhbGciOiJSUzI1NiJ9.e30.sig',
        },
      }),
    },
    {
      name: 'ciba-push-token-no-id',
      message: openIDCIBACallbackMessage({
        timestamp: at,
        requestId: 'req-3',
        accessToken: 'notif-3',
        pushToken: {
          accessToken: 'at',
          tokenType: 'Bearer',
          refreshToken: 'rt',
          expiresAt: new Date('2023-06-01T13:00:00Z'),
          idToken: null,
        },
      }),
    },
    {
      name: 'ciba-push-error',
      message: openIDCIBACallbackMessage({
        timestamp: at,
        requestId: 'req-4',
        accessToken: 'notif-4',
        pushError: { error: 'access_denied', errorDescription: 'The end-user denied the request.' },
      }),
    },
    {
      name: 'ciba-bare',
      message: openIDCIBACallbackMessage({ timestamp: at, requestId: 'req-5' }),
    },
    {
      name: 'powens-hmac',
      message: powensWebhookMessage({
        timestamp: at,
        domain: 'example.biapi.pro',
        event: 'USER_CREATED',
        hmacSignature: {
          signature: 'GUvRcbQSsYKdLJf/KuIEUiTgp1Hg7WjRI0QBSLEvt9w=',
          payloadPrefix:
            'POST./powens-webhook/example.biapi.pro/USER_CREATED.2023-06-01T12:34:56Z.',
          signatureDate: new Date('2023-06-01T12:34:56Z'),
        },
        payload:
          '{"user": {"id": 42}, "connection": {"id": 7, "state": null}, "note": "Crème brûlée"}',
      }),
    },
    {
      name: 'powens-user-token',
      message: powensWebhookMessage({
        timestamp: at,
        domain: 'other.biapi.pro',
        event: 'CONNECTION_SYNCED',
        userToken: 'user-scoped-token',
        payload: '{}',
      }),
    },
    {
      name: 'powens-large',
      message: powensWebhookMessage({
        timestamp: at,
        domain: 'big.biapi.pro',
        event: 'CONNECTION_SYNCED',
        userToken: 'u',
        payload: JSON.stringify({ transactions }),
      }),
    },
  ];
}
