import fc from 'fast-check';

/** Every secret the fuzzer sends has this shape, so a log line can be searched for any of them. */
export const SECRET_PATTERN = /zqS[0-9a-f]{12}/g;

/** Percent-encodes the UTF-8 bytes of `text` but those `keep` matches; lone surrogates included. */
function percentEncode(text: string, keep = /[A-Za-z0-9._~-]/): string {
  let encoded = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const character = String.fromCharCode(byte);
    encoded +=
      byte < 0x80 && keep.test(character) ? character : `%${byte.toString(16).padStart(2, '0')}`;
  }
  return encoded;
}

const secret = fc.stringMatching(/^[0-9a-f]{12}$/).map((hex) => `zqS${hex}`);

/** Text a hostile client might send: unicode, controls, percent signs, very long runs. */
const junk = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    '%',
    '%zz',
    '%00',
    '..',
    '../..',
    '\u0000',
    '\uFEFF',
    '<script>',
    '$' + '{x}',
    '__proto__',
    'constructor',
  ),
  fc.integer({ min: 1, max: 20_000 }).map((length) => 'a?&#='.repeat(length).slice(0, length)),
);

const PATHS = [
  '/callback',
  '/errback',
  '/raw-callback',
  '/openid-ciba-callback',
  '/powens-webhook/example.biapi.pro/USER_CREATED',
  '/ws',
  '/',
  '/page/app.css',
  '/livez',
  '/readyz',
  '/healthz',
  '/metrics',
  '/nowhere',
];

const path = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PATHS) },
  fc
    .tuple(fc.constantFrom(...PATHS), junk)
    .map(([base, tail]) => `${base}${percentEncode(tail, /[A-Za-z0-9._~/?&=-]/)}`),
  fc
    .tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }))
    .map(([domain, event]) => `/powens-webhook/${percentEncode(domain)}/${percentEncode(event)}`),
  fc.constantFrom(
    '//callback',
    '/callback/',
    '/CALLBACK',
    '/callback&state=zqS000000000000&code=x',
    '*',
  ),
);

const queryValue = fc.oneof({ weight: 3, arbitrary: secret }, junk);

const fullUrl = fc
  .tuple(
    fc.constantFrom(
      'http://127.0.0.1',
      'https://127.0.0.1',
      'javascript:',
      'data:',
      'file://',
      'C:\\',
      'http://evil.example',
    ),
    fc.constantFrom('/callback#state=', '/callback?state=', '/callback&state=', '#code='),
    secret,
  )
  .map(([origin, part, value]) => `${origin}${part}${value}`);

const query = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constantFrom('state', 'code', 'credentials', 'error', 'token', 'x'), queryValue),
      fc.tuple(fc.constant('full_url'), fullUrl),
      fc.tuple(junk, queryValue),
    ),
    { maxLength: 5 },
  )
  .map((pairs) =>
    pairs.map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`).join('&'),
  );

const authorization = fc.oneof(
  secret.map((token) => `Bearer ${token}`),
  secret.map((password) => `Basic ${Buffer.from(`anonymous:${password}`).toString('base64')}`),
  secret.map(
    (password) => `Basic ${Buffer.from(`anonymous:${password}`).toString('base64')}==junk`,
  ),
  junk.map((text) => `Bearer ${text.replace(/[\r\n]/g, '')}`),
);

const signatureDate = fc.constantFrom(
  '2026-01-01T00:00:00Z',
  '2026-01-01T00:00:00+05:99',
  '2026-01-01T00:00:00+00:60',
  '2026-13-45T99:99:99+01:00',
  'yesterday',
  '',
);

const headerValue = junk.map((text) =>
  text
    .replace(/[\r\n]/g, '')
    .replaceAll(String.fromCharCode(0), '')
    .slice(0, 2_000),
);

const headers = fc.record(
  {
    authorization,
    cookie: secret.map((value) => `session=${value}`),
    'bi-signature': secret.map((value) => Buffer.from(value).toString('base64')),
    'bi-signature-date': signatureDate,
    'content-type': fc.constantFrom(
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      '*/*',
    ),
    'x-request-id': fc.oneof(fc.constantFrom('req-1', 'a b', '<x>'), headerValue),
    'x-forwarded-host': fc.constantFrom('evil.example', 'evil.example, 127.0.0.1', ''),
    'x-forwarded-proto': fc.constantFrom('https', 'gopher', ''),
    'x-custom': headerValue,
  },
  { requiredKeys: [] },
);

const json = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null');
const body = fc.oneof(
  fc.constant(''),
  secret.map((token) => JSON.stringify({ auth_req_id: token })),
  fc
    .tuple(secret, secret, fc.integer({ min: -5, max: 400_000_000 }))
    .map(([token, refresh, expires]) =>
      JSON.stringify({
        auth_req_id: 'r',
        access_token: token,
        token_type: 'Bearer',
        refresh_token: refresh,
        expires_in: expires,
      }),
    ),
  secret.map((token) => `{"user":{"token":"${token}"}}`),
  json,
  fc.constantFrom(
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '{',
    '\uFEFF{}',
    '[]',
  ),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  fc.integer({ min: 1, max: 1_200_000 }).map((length) => 'x'.repeat(length)),
);

/** One HTTP request: well framed (the listener's logic is under test), or garbage for the parser. */
export type FuzzRequest =
  | {
      readonly kind: 'http';
      readonly method: string;
      readonly target: string;
      readonly headers: Readonly<Record<string, string>>;
      readonly upgrade: boolean;
      readonly body: string;
    }
  | { readonly kind: 'garbage'; readonly bytes: string };

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.record({
      kind: fc.constant('http' as const),
      method: fc.constantFrom(
        'GET',
        'GET',
        'GET',
        'HEAD',
        'POST',
        'POST',
        'PUT',
        'PATCH',
        'DELETE',
        'OPTIONS',
        'TRACE',
        'BREW',
        'get',
      ),
      target: fc.tuple(path, query).map(([base, text]) => (text === '' ? base : `${base}?${text}`)),
      headers,
      upgrade: fc.boolean(),
      body,
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.constantFrom(
          'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
          'POST /callback HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
          'GET /callback?state=zqS0123456789ab HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
          'GET /\u0000 HTTP/1.1\r\n\r\n',
          'GET / HTTP/9.9\r\n\r\n',
          `GET / HTTP/1.1\r\nX: ${'y'.repeat(40_000)}\r\n\r\n`,
        ),
      )
      .map((bytes) => ({ kind: 'garbage' as const, bytes })),
  },
);

/** The bytes of a well-framed request: `Connection: close`, the right `Content-Length`. */
export function renderRequest(request: Extract<FuzzRequest, { kind: 'http' }>): string {
  const bytes = Buffer.from(request.body, 'utf8');
  const lines = [`${request.method} ${request.target} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`);
  if (request.upgrade) {
    lines.push(
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    );
  } else {
    lines.push('Connection: close');
  }
  if (bytes.length > 0) lines.push(`Content-Length: ${bytes.length}`);
  return `${lines.join('\r\n')}\r\n\r\n${request.body}`;
}

const key = fc.oneof(
  secret,
  junk,
  fc.integer({ min: 200, max: 2_000 }).map((length) => 'k'.repeat(length)),
);
const target = fc.oneof(
  key.map((state) => ({ type: 'callback', state })),
  key.map((request_id) => ({ type: 'openid_ciba_callback', request_id })),
  key.map((powens_domain) => ({ type: 'powens_domain', powens_domain })),
  fc.record({ type: junk, state: fc.jsonValue({ maxDepth: 1 }) }),
);

/** One client frame: protocol messages (valid or not), JSON of any shape, text, binary, oversized. */
export type FuzzFrame = { readonly binary: boolean; readonly data: string };

export const fuzzFrame: fc.Arbitrary<FuzzFrame> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record(
        {
          register_to: fc.oneof(target, fc.constant(null), fc.jsonValue({ maxDepth: 1 })),
          unregister_from: target,
          create: fc.record({
            type: fc.constant('callback'),
            state: key,
            expires_at: fc.constantFrom('2030-01-01T00:00:00', 'soon', null),
          }),
        },
        { requiredKeys: [] },
      )
      .map((message) => ({ binary: false, data: JSON.stringify(message) })),
  },
  { weight: 2, arbitrary: json.map((data) => ({ binary: false, data })) },
  fc.constantFrom(
    {
      binary: false,
      data: '{"__proto__":{"polluted":1},"register_to":{"type":"callback","state":"p"}}',
    },
    {
      binary: false,
      data: '{"register_to":{"type":"callback","state":"a"},"register_to":{"type":"x"}}',
    },
    { binary: false, data: '{"register_to":{"type":"callback","state":"\ud800"}}' },
  ),
  { weight: 1, arbitrary: junk.map((data) => ({ binary: false, data })) },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ maxLength: 100 })
      .map((bytes) => ({ binary: true, data: Buffer.from(bytes).toString('latin1') })),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 60_000, max: 200_000 })
      .map((length) => ({ binary: false, data: 'x'.repeat(length) })),
  },
);
