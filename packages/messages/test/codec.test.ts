import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  callbackMessage,
  decodeMessage,
  encodeMessage,
  MESSAGE_KINDS,
  type Message,
  MessageDecodeError,
  MessageValidationError,
  openIDCIBACallbackMessage,
  parseDatetime,
  powensWebhookMessage,
  routingKeyOf,
} from '../src/index';

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

const at = new Date('2023-06-01T12:34:56.789Z');

describe('constructors', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('default the timestamp to now and the optionals to null', () => {
    vi.useFakeTimers({ now: at });
    expect(callbackMessage({ url: 'https://x.test/cb?state=s', state: 's' })).toEqual({
      kind: 'callback',
      timestamp: at,
      url: 'https://x.test/cb?state=s',
      state: 's',
    });
    expect(openIDCIBACallbackMessage({ requestId: 'r' })).toEqual({
      kind: 'openid_ciba_callback',
      timestamp: at,
      requestId: 'r',
      accessToken: null,
      pushToken: null,
      pushError: null,
    });
    expect(powensWebhookMessage({ domain: 'd.biapi.pro', event: 'E', payload: '{}' })).toEqual({
      kind: 'powens_webhook',
      timestamp: at,
      domain: 'd.biapi.pro',
      event: 'E',
      hmacSignature: null,
      userToken: null,
      payload: '{}',
    });
  });

  it('keep a given timestamp and turn undefined optionals into null', () => {
    const message = openIDCIBACallbackMessage({
      requestId: 'r',
      accessToken: undefined,
      pushError: { error: 'access_denied', errorDescription: null },
      timestamp: at,
    });
    expect(message.timestamp).toBe(at);
    expect(message.accessToken).toBeNull();
    expect(message.pushToken).toBeNull();
    expect(message.pushError).toEqual({ error: 'access_denied', errorDescription: null });
  });

  const wrongInputs: [string, () => unknown, string][] = [
    ['a numeric state', () => callbackMessage({ url: 'u', state: 5 as never }), 'state'],
    ['a missing url', () => callbackMessage({ state: 's' } as never), 'url'],
    [
      'a string timestamp',
      () => callbackMessage({ url: 'u', state: 's', timestamp: '2023-06-01' as never }),
      'timestamp',
    ],
    [
      'an invalid Date',
      () => callbackMessage({ url: 'u', state: 's', timestamp: new Date(Number.NaN) }),
      'timestamp',
    ],
    [
      'a year the wire cannot carry',
      () => callbackMessage({ url: 'u', state: 's', timestamp: new Date(Date.UTC(10_000, 0)) }),
      'timestamp',
    ],
    [
      'a string expiresAt',
      () =>
        openIDCIBACallbackMessage({
          requestId: 'r',
          pushToken: {
            accessToken: 'a',
            tokenType: 'Bearer',
            refreshToken: 'r',
            expiresAt: '2023-06-01T12:00:00Z' as never,
            idToken: null,
          },
        }),
      'pushToken.expiresAt',
    ],
    [
      'a numeric access token',
      () => openIDCIBACallbackMessage({ requestId: 'r', accessToken: 1 as never }),
      'accessToken',
    ],
    [
      'a missing push error code',
      () =>
        openIDCIBACallbackMessage({
          requestId: 'r',
          pushError: { errorDescription: null } as never,
        }),
      'pushError.error',
    ],
    [
      'an object payload',
      () => powensWebhookMessage({ domain: 'd', event: 'E', payload: {} as never }),
      'payload',
    ],
    [
      'a numeric signature date',
      () =>
        powensWebhookMessage({
          domain: 'd',
          event: 'E',
          payload: '',
          hmacSignature: { signature: 'AAAA', payloadPrefix: 'p', signatureDate: 0 as never },
        }),
      'hmacSignature.signatureDate',
    ],
  ];
  for (const [what, build, field] of wrongInputs) {
    it(`reject ${what}, naming ${field}`, () => {
      const error = catchError(build);
      expect(error).toBeInstanceOf(MessageValidationError);
      expect((error as MessageValidationError).field).toBe(field);
      expect((error as MessageValidationError).message).toContain(field);
    });
  }
});

describe('encodeMessage', () => {
  it('writes compact snake_case JSON with naive UTC datetimes, as Python writes utcnow(), and explicit nulls', () => {
    const message = openIDCIBACallbackMessage({
      requestId: 'req-1',
      pushToken: {
        accessToken: 'at',
        tokenType: 'Bearer',
        refreshToken: 'rt',
        expiresAt: new Date('2023-06-01T14:34:56.5+02:00'),
        idToken: null,
      },
      timestamp: at,
    });
    expect(encodeMessage(message)).toBe(
      '{"timestamp":"2023-06-01T12:34:56.789000","request_id":"req-1","access_token":null,' +
        '"push_token":{"access_token":"at","token_type":"Bearer","refresh_token":"rt",' +
        '"expires_at":"2023-06-01T12:34:56.500000","id_token":null},"push_error":null}',
    );
  });

  it('writes every field of each kind, in wire names', () => {
    expect(
      JSON.parse(encodeMessage(callbackMessage({ url: 'u', state: 's', timestamp: at }))),
    ).toEqual({
      timestamp: '2023-06-01T12:34:56.789000',
      url: 'u',
      state: 's',
    });
    const webhook = powensWebhookMessage({
      domain: 'd.biapi.pro',
      event: 'E',
      payload: '{"a": 1}',
      hmacSignature: { signature: 'AAAA', payloadPrefix: 'POST./p.x.', signatureDate: null },
      timestamp: at,
    });
    expect(JSON.parse(encodeMessage(webhook))).toEqual({
      timestamp: '2023-06-01T12:34:56.789000',
      domain: 'd.biapi.pro',
      event: 'E',
      hmac_signature: { signature: 'AAAA', payload_prefix: 'POST./p.x.', signature_date: null },
      user_token: null,
      payload: '{"a": 1}',
    });
  });

  it('writes signature_date with its offset and naive datetimes without one, as pydantic does', () => {
    const webhook = powensWebhookMessage({
      domain: 'd.biapi.pro',
      event: 'E',
      payload: '',
      userToken: 'u',
      hmacSignature: {
        signature: 'AAAA',
        payloadPrefix: 'POST./p.2023-06-01T14:34:56+02:00.',
        signatureDate: new Date('2023-06-01T14:34:56+02:00'),
      },
      timestamp: new Date('2023-06-01T12:34:57Z'),
    });
    const wire = JSON.parse(encodeMessage(webhook));
    // Six fraction digits even when they are zeros: fixed width, as utcnow() nearly always is.
    expect(wire.timestamp).toBe('2023-06-01T12:34:57.000000');
    expect(wire.hmac_signature.signature_date).toBe('2023-06-01T12:34:56.000000+00:00');
    expect(decodeMessage('powens_webhook', JSON.stringify(wire))).toEqual(webhook);
  });

  it('refuses a message of the wrong shape', () => {
    const broken = { ...callbackMessage({ url: 'u', state: 's' }), state: null };
    const error = catchError(() => encodeMessage(broken as unknown as Message));
    expect(error).toBeInstanceOf(MessageValidationError);
    expect((error as MessageValidationError).field).toBe('state');
    const unknownKind = catchError(() => encodeMessage({ kind: 'other' } as unknown as Message));
    expect((unknownKind as MessageValidationError).field).toBe('kind');
  });
});

describe('decodeMessage', () => {
  const wire = '{"timestamp":"2023-06-01T12:34:56","url":"https://x.test/é","state":"ü"}';

  it('accepts UTF-8 bytes as well as text', () => {
    const bytes = new TextEncoder().encode(wire);
    expect(decodeMessage('callback', bytes)).toEqual(decodeMessage('callback', wire));
    expect(decodeMessage('callback', bytes).state).toBe('ü');
  });

  it('refuses bytes that are not UTF-8', () => {
    const bytes = new TextEncoder().encode(wire);
    const invalid = new Uint8Array([...bytes.slice(0, 20), 0xff, 0xfe, ...bytes.slice(20)]);
    const error = catchError(() => decodeMessage('callback', invalid));
    expect(error).toBeInstanceOf(MessageDecodeError);
    expect((error as MessageDecodeError).field).toBeNull();
    expect((error as MessageDecodeError).reason).toMatch(/UTF-8/);
  });

  it('fills a missing timestamp with now, as pydantic does', () => {
    const before = Date.now();
    const message = decodeMessage('callback', '{"url":"u","state":"s"}');
    expect(message.timestamp.getTime()).toBeGreaterThanOrEqual(before);
    expect(message.timestamp.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('reads absent optionals as null and ignores unknown fields', () => {
    const message = decodeMessage(
      'powens_webhook',
      '{"domain":"d","event":"E","payload":"","x":1}',
    );
    expect(message).toMatchObject({ hmacSignature: null, userToken: null });
    expect(Object.keys(message).sort()).toEqual(
      ['domain', 'event', 'hmacSignature', 'kind', 'payload', 'timestamp', 'userToken'].sort(),
    );
  });

  it('names the nested field at fault', () => {
    const body =
      '{"request_id":"r","push_token":{"access_token":"a","token_type":"t","refresh_token":"r","expires_at":"soon"}}';
    const error = catchError(() => decodeMessage('openid_ciba_callback', body));
    expect(error).toMatchObject({ field: 'push_token.expires_at', kind: 'openid_ciba_callback' });
    expect((error as Error).message).toContain('push_token.expires_at');
  });

  it('never quotes a field value in its errors', () => {
    const secret = 'SECRET-TOKEN';
    const bodies = [
      `{"timestamp":"2023-06-01T12:34:56","access_token":"${secret}"}`,
      `{"request_id":"r","access_token":"${secret}","push_token":{"access_token":"${secret}"}}`,
      `{"request_id":7,"access_token":"${secret}"}`,
      `{"request_id":"r","access_token":"${secret}",`,
      `{"request_id":"r","timestamp":"${secret}"}`,
    ];
    for (const body of bodies) {
      const error = catchError(() => decodeMessage('openid_ciba_callback', body));
      expect(error).toBeInstanceOf(MessageDecodeError);
      const decodeError = error as MessageDecodeError;
      expect(decodeError.message).not.toContain(secret);
      expect(decodeError.reason).not.toContain(secret);
      expect(String(decodeError.cause ?? '')).not.toContain(secret);
    }
    const missing = catchError(() => decodeMessage('openid_ciba_callback', bodies[0]!));
    expect((missing as MessageDecodeError).field).toBe('request_id');
    expect((missing as MessageDecodeError).reason).toBe('is required');
  });

  it('names the whole body when it is not a JSON object', () => {
    for (const body of ['[]', 'null', '"text"', '42', '']) {
      const error = catchError(() => decodeMessage('callback', body));
      expect(error).toBeInstanceOf(MessageDecodeError);
      expect((error as MessageDecodeError).field).toBeNull();
    }
  });
});

describe('routingKeyOf', () => {
  it('is the state, the request id or the domain', () => {
    expect(routingKeyOf(callbackMessage({ url: 'u', state: 'st' }))).toBe('st');
    expect(routingKeyOf(openIDCIBACallbackMessage({ requestId: 'rq' }))).toBe('rq');
    expect(routingKeyOf(powensWebhookMessage({ domain: 'dm', event: 'E', payload: '' }))).toBe(
      'dm',
    );
    expect(MESSAGE_KINDS).toEqual(['callback', 'openid_ciba_callback', 'powens_webhook']);
  });
});

describe('parseDatetime', () => {
  const accepted: [string, string][] = [
    ['2023-06-01T12:34:56', '2023-06-01T12:34:56.000Z'],
    ['2023-06-01 12:34:56', '2023-06-01T12:34:56.000Z'],
    ['2023-06-01T12:34:56,5', '2023-06-01T12:34:56.500Z'],
    ['2023-06-01T12:34:56.789012', '2023-06-01T12:34:56.789Z'],
    ['2023-06-01T12:34:56.999999999', '2023-06-01T12:34:56.999Z'],
    ['2023-06-01T12:34', '2023-06-01T12:34:00.000Z'],
    ['2023-06-01T12:34:56Z', '2023-06-01T12:34:56.000Z'],
    ['2023-06-01T14:34:56+0200', '2023-06-01T12:34:56.000Z'],
    ['2023-06-01T14:34:56+02:00', '2023-06-01T12:34:56.000Z'],
    ['2023-06-01T14:34:56+02', '2023-06-01T12:34:56.000Z'],
    ['2023-06-01T07:04:56-05:30', '2023-06-01T12:34:56.000Z'],
    ['2024-02-29T00:00:00', '2024-02-29T00:00:00.000Z'],
    ['2000-02-29T00:00:00', '2000-02-29T00:00:00.000Z'],
    ['0001-01-01T00:00:00', '0001-01-01T00:00:00.000Z'],
    ['0050-06-15T00:00:00', '0050-06-15T00:00:00.000Z'],
    ['0099-12-31T23:30:00-01:00', '0100-01-01T00:30:00.000Z'],
    ['9999-12-31T23:59:59.999', '9999-12-31T23:59:59.999Z'],
  ];
  for (const [text, instant] of accepted) {
    it(`reads ${text} as ${instant}`, () => {
      expect(parseDatetime(text)?.toISOString()).toBe(instant);
    });
  }

  const refused = [
    '2023-02-29T00:00:00',
    '1900-02-29T00:00:00',
    '2023-04-31T00:00:00',
    '2023-13-01T00:00:00',
    '2023-06-01T24:00:00',
    '2023-06-01T12:60:00',
    '2023-06-01T12:34:60',
    '2023-06-01T12:34:56+24:00',
    '0000-01-01T00:00:00',
    '0001-01-01T00:00:00+01:00',
    '9999-12-31T23:59:59-01:00',
    '2023-06-01',
    '2023-06-01T',
    '12:34:56',
    '2023-06-01T12:34:56 ',
    ' 2023-06-01T12:34:56',
    '2023-06-01T12:34:56+2',
    'yesterday',
    '',
  ];
  for (const text of refused) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      expect(parseDatetime(text)).toBeNull();
    });
  }

  it('requires an offset when asked', () => {
    expect(parseDatetime('2023-06-01T12:34:56', true)).toBeNull();
    expect(parseDatetime('2023-06-01T12:34:56Z', true)?.toISOString()).toBe(
      '2023-06-01T12:34:56.000Z',
    );
  });
});
