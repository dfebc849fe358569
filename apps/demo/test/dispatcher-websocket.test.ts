import { transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, openIDCIBACallbackMessage, powensWebhookMessage } from '@teal/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listen, startTestDemo, type TestDemo } from './helpers/server';
import { basic, TestSocket } from './helpers/websocket';

let demo: TestDemo;
let baseUrl: string;
const sockets: TestSocket[] = [];

/** The bindings the demo's handler holds on its (in-process) broker. */
function bindings(): string[] {
  return [...(transportOf(demo.handler).resources?.() ?? [])].sort();
}

beforeEach(async () => {
  demo = await startTestDemo({
    env: { DISPATCHER_PASSWORD: 'pässword', DISPATCHER_MAX_REGISTRATIONS: '3' },
  });
  baseUrl = await listen(demo.app);
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  await demo.close();
});

type OpenOptions = { path?: string; headers?: Record<string, string>; autoPong?: boolean };

async function open(options: OpenOptions = { headers: basic('anonymous', 'pässword') }) {
  const socket = await TestSocket.open(baseUrl, options);
  sockets.push(socket);
  return socket;
}

describe('authentication on /websocket and /ws', () => {
  const valid = Buffer.from('anonymous:pässword').toString('base64');

  it.each(['/websocket', '/ws'])('accepts HTTP Basic anonymous:<password> on %s', async (path) => {
    const socket = await open({ path, headers: basic('anonymous', 'pässword') });
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
  });

  it('accepts ?credentials=<base64> when there is no Authorization header', async () => {
    await open({ path: `/websocket?credentials=${encodeURIComponent(valid)}` });
  });

  it.each([
    ['no credentials', {}],
    ['a wrong password', { headers: basic('anonymous', 'password') }],
    ['a wrong user', { headers: basic('admin', 'pässword') }],
    ['a Bearer scheme', { headers: { authorization: 'Bearer pässword' } }],
    [
      'wrong ?credentials',
      { path: `/ws?credentials=${Buffer.from('anonymous:nope').toString('base64')}` },
    ],
    // Strict base64: Node's lenient decoder would take each of these for the right credentials.
    ['text after the padding', { headers: { authorization: `Basic ${valid}==junk` } }],
    ['a missing padding', { headers: { authorization: `Basic ${valid.replace(/=+$/, '')}` } }],
    [
      'the URL-safe alphabet',
      {
        headers: {
          authorization: `Basic ${Buffer.from('anonymous:pässword').toString('base64url')}`,
        },
      },
    ],
    [
      'spaces inside',
      { headers: { authorization: `Basic ${valid.slice(0, 4)} ${valid.slice(4)}` } },
    ],
    [
      'a malformed header beside valid ?credentials',
      {
        path: `/ws?credentials=${encodeURIComponent(valid)}`,
        headers: { authorization: `Basic ${valid}junk` },
      },
    ],
  ])('closes with 1008 "Authentication required" for %s', async (_case, options: OpenOptions) => {
    for (const path of ['/websocket', '/ws']) {
      const socket = await open({ ...options, path: (options.path ?? '/ws').replace('/ws', path) });
      expect(await socket.closed()).toEqual({ code: 1008, reason: 'Authentication required' });
    }
  });
});

describe('the WebSocket protocol', () => {
  it('pushes a callback to the socket that registered its state, with a naive UTC timestamp', async () => {
    const socket = await open();
    expect(await socket.request({ register_to: { type: 'callback', state: 'st' } })).toEqual({
      type: 'registered',
      register_to: { type: 'callback', state: 'st' },
    });
    await demo.peer.send(
      callbackMessage({ url: 'https://l/callback?state=st&code=c', state: 'st' }),
    );
    const frame = await socket.next((f) => f.type === 'callback', 'the callback');
    expect(frame).toMatchObject({
      type: 'callback',
      state: 'st',
      url: 'https://l/callback?state=st&code=c',
    });
    expect(frame.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
  });

  it('pushes CIBA notifications and Powens webhooks with snake_case fields', async () => {
    const socket = await open();
    await socket.request({ register_to: { type: 'openid_ciba_callback', request_id: 'rq' } });
    await socket.request({ register_to: { type: 'powens_domain', powens_domain: 'ex.biapi.pro' } });
    expect(bindings()).toEqual([
      'binding openid_ciba_callbacks rq',
      'binding powens_domain_webhooks ex.biapi.pro',
    ]);
    await demo.peer.send(
      openIDCIBACallbackMessage({
        requestId: 'rq',
        pushError: { error: 'access_denied', errorDescription: null },
      }),
    );
    await demo.peer.send(
      powensWebhookMessage({
        domain: 'ex.biapi.pro',
        event: 'SYNC',
        payload: '{"a":1}',
        userToken: 'u',
      }),
    );
    expect(
      await socket.next((f) => f.type === 'openid_ciba_callback', 'the CIBA notification'),
    ).toMatchObject({
      request_id: 'rq',
      access_token: null,
      push_token: null,
      push_error: { error: 'access_denied', error_description: null },
    });
    expect(await socket.next((f) => f.type === 'powens_webhook', 'the webhook')).toMatchObject({
      domain: 'ex.biapi.pro',
      event: 'SYNC',
      payload: '{"a":1}',
      user_token: 'u',
      hmac_signature: null,
    });
  });

  it('answers invalid messages with error frames and keeps the socket open', async () => {
    const socket = await open();
    for (const frame of ['nope', '{"register_to": {"type": "callback"}}', '{"register_to": 1}']) {
      expect((await socket.request(frame)).type).toBe('error');
    }
    const from = socket.frames.length;
    socket.socket.send(Buffer.from('{}'), { binary: true });
    expect((await socket.next((f) => f.type === 'error', 'an error frame', from)).error).toContain(
      'binary',
    );
    expect(
      (await socket.request({ register_to: { type: 'callback', state: 'still-open' } })).type,
    ).toBe('registered');
    expect(socket.closeCode).toBeNull();
  });

  it('limits the registrations of one socket', async () => {
    const socket = await open();
    for (const state of ['a', 'b', 'c']) {
      expect((await socket.request({ register_to: { type: 'callback', state } })).type).toBe(
        'registered',
      );
    }
    // Registering a key again is not one more registration.
    expect((await socket.request({ register_to: { type: 'callback', state: 'a' } })).type).toBe(
      'registered',
    );
    const refused = await socket.request({ register_to: { type: 'callback', state: 'd' } });
    expect(refused.type).toBe('error');
    expect(refused.error).toContain('limit');
    await socket.request({ unregister_from: { type: 'callback', state: 'a' } });
    expect((await socket.request({ register_to: { type: 'callback', state: 'd' } })).type).toBe(
      'registered',
    );
  });

  it('does not push messages of keys the socket did not register', async () => {
    const listening = await open();
    const idle = await open();
    await listening.request({ register_to: { type: 'callback', state: 'mine' } });
    await demo.peer.send(callbackMessage({ url: 'https://l/', state: 'mine' }));
    await listening.next((f) => f.type === 'callback', 'the callback');
    expect(idle.frames).toEqual([]);
  });
});

describe('reference counting', () => {
  it('unbinds a key from the broker when the last socket waiting on it closes', async () => {
    const [first, second] = [await open(), await open()];
    await first.request({ register_to: { type: 'callback', state: 'shared' } });
    await second.request({ register_to: { type: 'callback', state: 'shared' } });
    expect(bindings()).toEqual(['binding callbacks shared']);

    await first.close();
    await demo.peer.send(callbackMessage({ url: 'https://l/', state: 'shared' }));
    await second.next((f) => f.type === 'callback', 'the callback on the socket left');
    expect(bindings()).toEqual(['binding callbacks shared']);

    await second.close();
    await waitFor(() => bindings().length === 0, 'the unbind');
  });

  it('unbinds on unregister_from when no other socket waits', async () => {
    const socket = await open();
    await socket.request({ register_to: { type: 'powens_domain', powens_domain: 'ex.biapi.pro' } });
    expect(
      await socket.request({
        unregister_from: { type: 'powens_domain', powens_domain: 'ex.biapi.pro' },
      }),
    ).toEqual({
      type: 'unregistered',
      unregister_from: { type: 'powens_domain', powens_domain: 'ex.biapi.pro' },
    });
    await waitFor(() => bindings().length === 0, 'the unbind');
  });

  it('drops a client that stops answering pings, and unbinds its keys', async () => {
    await demo.close();
    demo = await startTestDemo({ env: { DISPATCHER_PASSWORD: 'pässword' }, heartbeatMs: 50 });
    baseUrl = await listen(demo.app);
    // A client that vanished without closing answers no ping.
    const socket = await open({ headers: basic('anonymous', 'pässword'), autoPong: false });
    await socket.request({ register_to: { type: 'callback', state: 'gone' } });
    expect(bindings()).toEqual(['binding callbacks gone']);
    await waitFor(() => bindings().length === 0, 'the unbind of a dead client');
  });
});
