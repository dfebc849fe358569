import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from './helpers/raw-http';
import { listen, startTestDemo, type TestDemo } from './helpers/server';

let demo: TestDemo;
let baseUrl: string;

beforeAll(async () => {
  demo = await startTestDemo({ env: { DISPATCHER_PASSWORD: 'pw-secret-0' } });
  baseUrl = await listen(demo.app);
});
afterAll(async () => {
  await demo.close();
});

const PATHS = [
  '/callback',
  '/errback',
  '/raw-callback',
  '/openid-ciba-callback',
  '/powens-webhook/secret-dom.biapi.pro/E',
  '/ws',
  '/websocket',
  '/',
  '/livez',
  '/readyz',
  '/healthz',
  '/metrics',
  '/nowhere',
];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

describe('every log line', () => {
  it('keeps the secrets of every route, method and upgrade variant out', {
    timeout: 120_000,
  }, async () => {
    const secrets: string[] = [];
    let count = 0;
    for (const path of PATHS) {
      for (const method of METHODS) {
        for (const upgrade of [false, true]) {
          const id = `${++count}`.padStart(4, '0');
          const secret = (name: string) => {
            const value = `${name}-secret-${id}`;
            secrets.push(value);
            return value;
          };
          const credentials = Buffer.from(`anonymous:${secret('cred')}`).toString('base64');
          secrets.push(credentials);
          const fullUrl = `http://127.0.0.1/callback#state=${secret('fragment')}&code=${secret('fcode')}`;
          const query =
            `?state=${secret('state')}&code=${secret('code')}` +
            `&credentials=${encodeURIComponent(credentials)}` +
            `&full_url=${encodeURIComponent(fullUrl)}`;
          const body = `{"auth_req_id":"${secret('body')}"}`;
          const head = [
            `${method} ${path}${query} HTTP/1.1`,
            'Host: 127.0.0.1',
            `Authorization: Bearer ${secret('bearer')}`,
            `Cookie: session=${secret('cookie')}`,
            `BI-Signature: ${secret('sig')}`,
            'BI-Signature-Date: 2026-01-01T00:00:00Z',
            'Content-Type: application/json',
            `Content-Length: ${body.length}`,
            ...(upgrade
              ? [
                  'Connection: Upgrade',
                  'Upgrade: websocket',
                  'Sec-WebSocket-Version: 13',
                  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
                ]
              : ['Connection: close']),
          ];
          const response = await rawRequest(baseUrl, `${head.join('\r\n')}\r\n\r\n${body}`, 5_000);
          const what = `${method} ${path} upgrade=${upgrade}`;
          expect(response.statusCode, what).toBeGreaterThan(0);
          if (upgrade && method === 'GET' && (path === '/ws' || path === '/websocket')) {
            // The dispatcher's WebSockets upgrade first and close with 1008 without
            // valid credentials, as the Python dispatcher does (its clients expect that).
            expect(response.statusCode, what).toBe(101);
            continue;
          }
          // Answered and closed, not left open until the client gives up.
          expect(response.elapsedMs, what).toBeLessThan(4_000);
          // No other route speaks WebSocket.
          expect(response.statusCode, what).not.toBe(101);
          expect(response.statusCode).toBeLessThan(500);
        }
      }
    }
    const logs = demo.logs.join('');
    expect(demo.logs.length).toBeGreaterThan(count / 2);
    for (const secret of secrets) expect(logs).not.toContain(secret);
    expect(logs).not.toContain('pw-secret-0');
  });

  it('masks query and fragment values, URL passwords and credentials in fields nobody redacts', () => {
    const before = demo.logs.length;
    demo.app.log.info(
      { path: '/callback?state=s3cr3t&code=c0de', other: 'amqp://u:hunter2@h' },
      'x',
    );
    demo.app.log.info({ header: 'Basic YW5vbnltb3VzOnB3', full: 'https://h/p#state=frag' }, 'y');
    demo.app.log.info({}, 'callback for /raw-callback?full_url=https%3A%2F%2Fh%23state%3Dz');
    const lines = demo.logs.slice(before).join('');
    for (const secret of ['s3cr3t', 'c0de', 'hunter2', 'YW5vbnltb3VzOnB3', 'frag', '%2Fh%23']) {
      expect(lines).not.toContain(secret);
    }
    expect(lines).toContain('/callback?state=***&code=***');
    expect(lines).toContain('amqp://u:***@h');
  });
});
