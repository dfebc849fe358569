import { randomKey, transportOf, waitFor } from '@teal/amq-core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CallbackState, StateStore } from '../src/states/store';
import { StateStoreError } from '../src/states/store';
import { listen, startTestDemo, type TestDemo } from './helpers/server';
import { basic, TestSocket } from './helpers/websocket';

let demo: TestDemo;
let baseUrl: string;
const sockets: TestSocket[] = [];

beforeEach(async () => {
  demo = await startTestDemo({ env: { DISPATCHER_PASSWORD: 'pw' } });
  baseUrl = await listen(demo.app);
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  await demo.close();
});

/** A client of the Python dispatcher's protocol, on `/websocket`. */
async function pythonClient(): Promise<TestSocket> {
  const socket = await TestSocket.open(baseUrl, {
    path: '/websocket',
    headers: basic('anonymous', 'pw'),
  });
  sockets.push(socket);
  return socket;
}

const inMinutes = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

function isBound(state: string): boolean {
  return [...(transportOf(demo.handler).resources?.() ?? [])].includes(
    `binding callbacks ${state}`,
  );
}

function get(path: string): Promise<Response> {
  return fetch(`${baseUrl}${path}`, { redirect: 'manual' });
}

describe('the Python protocol on /websocket', () => {
  it('creates a state, registers to it, and the listener redirects (302) once the message is sent', async () => {
    const socket = await pythonClient();
    const state = randomKey('st');
    socket.send({
      create: {
        type: 'callback',
        state,
        final_redirect_url: 'https://app.example/done?x=1',
        expires_at: inMinutes(5),
      },
      register_to: { type: 'callback', state },
    });
    await waitFor(() => isBound(state), 'the binding of the state');
    const response = await get(`/callback?state=${state}&code=c`);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://app.example/done?x=1');
    // The redirect came after the message was sent: the frame is on its way or there.
    const frame = await socket.next((f) => f.type === 'callback', 'the callback frame');
    expect(frame).toEqual({
      type: 'callback',
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/),
      url: `${baseUrl}/callback?state=${state}&code=c`,
      state,
    });
    // Nothing but the protocol's own frames: no acknowledgement, no error.
    expect(socket.frames.map((f) => f.type)).toEqual(['callback']);
  });

  it('serves the fragment page for a with_fragment state, then redirects from /raw-callback', async () => {
    const socket = await pythonClient();
    const state = randomKey('frag');
    socket.send({
      create: {
        type: 'callback',
        state,
        final_redirect_url: 'https://app.example/after',
        with_fragment: true,
        expires_at: inMinutes(5),
      },
      register_to: { type: 'callback', state },
    });
    await waitFor(() => isBound(state), 'the binding of the state');
    const page = await get(`/callback?state=${state}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('raw-callback?full_url=');
    expect(socket.frames).toEqual([]);

    const fullUrl = `${baseUrl}/callback?state=${state}#access_token=t`;
    const response = await get(`/raw-callback?full_url=${encodeURIComponent(fullUrl)}`);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://app.example/after');
    const frame = await socket.next((f) => f.type === 'callback', 'the callback frame');
    expect(frame.url).toBe(fullUrl);
  });

  it('answers a too early or too late expiry with callback_creation_failure and skips the rest of the frame', async () => {
    const socket = await pythonClient();
    const state = randomKey('early');
    socket.send({
      create: { type: 'callback', state, expires_at: new Date(Date.now() + 5_000).toISOString() },
      register_to: { type: 'callback', state },
    });
    expect(await socket.next((f) => f.type === 'callback_creation_failure', 'a failure')).toEqual({
      type: 'callback_creation_failure',
      state,
      detail: 'Callback expiration date was too early.',
    });
    socket.send({ create: { type: 'callback', state, expires_at: inMinutes(8 * 24 * 60) } });
    await waitFor(() => socket.frames.length === 2, 'the second failure');
    expect(socket.frames[1]?.detail).toBe(
      'Callback expiration was too late; a maximum of 7 days is enforced.',
    );
    expect(await demo.states.get(state)).toBeNull();
    expect(isBound(state)).toBe(false);
  });

  it('ignores frames it cannot parse and keeps the socket open', async () => {
    const socket = await pythonClient();
    const state = randomKey('after');
    for (const frame of ['not json', '{"register_to": {"type": "nope", "state": "x"}}', '[]']) {
      socket.send(frame);
    }
    socket.send({ register_to: { type: 'callback', state }, unknown_member: 42 });
    await waitFor(() => isBound(state), 'the binding after the skipped frames');
    expect(socket.frames).toEqual([]);
    expect(socket.closeCode).toBeNull();
  });

  it('finds the state of a query that starts with &, and redirects there too', async () => {
    const state = randomKey('amp');
    await demo.states.put(state, {
      finalRedirectUrl: 'https://app.example/amp',
      withFragment: false,
      expiresAt: new Date(Date.now() + 60_000),
    });
    await demo.peer.bindCallbackState(state);
    const response = await get(`/errback&state=${state}&error=access_denied`);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://app.example/amp');
    const [message] = await demo.inbox.receive(1);
    expect(message).toMatchObject({
      state,
      url: `${baseUrl}/errback&state=${state}&error=access_denied`,
    });
    // Without a state there, the fragment page looks for it in the fragment.
    expect(await (await get('/callback&code=x')).text()).toContain('raw-callback?full_url=');
  });

  it('handles unknown and expired states as before: a plain answer', async () => {
    const state = randomKey('old');
    await demo.states.put(state, {
      finalRedirectUrl: 'https://app.example/never',
      withFragment: false,
      expiresAt: new Date(Date.now() - 1),
    });
    for (const key of [state, randomKey('unknown')]) {
      const response = await get(`/callback?state=${key}&code=c`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('Callback received');
    }
  });
});

describe('a state store that does not answer', () => {
  it('answers 503 with Retry-After and sends nothing, so that a reload does it all again', async () => {
    await demo.close();
    const failing: StateStore = {
      put: async () => {},
      get: async (): Promise<CallbackState | null> => {
        throw new StateStoreError('the test store is down');
      },
      ping: async () => {},
      close: async () => {},
    };
    demo = await startTestDemo({ states: failing });
    const state = randomKey('down');
    await demo.peer.bindCallbackState(state);
    const response = await demo.app.inject({ url: `/callback?state=${state}&code=c` });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.body).toContain('reload this page');
    await demo.inbox.settle(0);
  });
});
