import { afterEach, describe, expect, it } from 'vitest';
import { startTestDemo, type TestDemo } from './helpers/server';

let demo: TestDemo | null = null;
afterEach(async () => {
  await demo?.close();
  demo = null;
});

const PATH = '/.well-known/teapots-teal-metadata';

describe('GET /.well-known/teapots-teal-metadata', () => {
  it('tells where the WebSocket and the listener are, without authentication, to any origin', async () => {
    demo = await startTestDemo();
    const response = await demo.app.inject({
      url: PATH,
      headers: { host: 'teal.example:8443', origin: 'https://app.example' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    expect(response.json()).toEqual({
      server_version: '0.0.0',
      websocket_url: 'ws://teal.example:8443/websocket',
      callback_url: 'http://teal.example:8443/callback',
      errback_url: 'http://teal.example:8443/errback',
      openid_ciba_callback_url: 'http://teal.example:8443/openid-ciba-callback',
    });
    // Member order as the Python service writes it.
    expect(Object.keys(response.json())[0]).toBe('server_version');
  });

  it('builds the listener URLs from LISTENER_URL, and the WebSocket URL from the request', async () => {
    demo = await startTestDemo({
      argv: ['--role', 'dispatcher'],
      env: { LISTENER_URL: 'https://listener.example/teal/', TRUST_PROXY: 'true' },
    });
    const response = await demo.app.inject({
      url: PATH,
      headers: {
        host: 'internal:8080',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'ws.example',
      },
    });
    expect(response.json()).toMatchObject({
      websocket_url: 'wss://ws.example/websocket',
      callback_url: 'https://listener.example/teal/callback',
      openid_ciba_callback_url: 'https://listener.example/teal/openid-ciba-callback',
    });
  });

  it('answers CORS preflights for any header', async () => {
    demo = await startTestDemo();
    const response = await demo.app.inject({
      method: 'OPTIONS',
      url: PATH,
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'x-custom',
      },
    });
    expect(response.statusCode).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.headers['access-control-allow-headers']).toBe('x-custom');
  });

  it('is not served by a listener alone', async () => {
    demo = await startTestDemo({ argv: ['--role', 'listener'] });
    expect((await demo.app.inject({ url: PATH })).statusCode).toBe(404);
  });
});
