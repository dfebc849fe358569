import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closed, openConnection, rawRequest } from './helpers/raw-http';
import { listen, startTestDemo, type TestDemo } from './helpers/server';

let demo: TestDemo | null = null;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await demo?.close();
  demo = null;
});

async function start(env: Record<string, string> = {}): Promise<string> {
  demo = await startTestDemo({ env });
  return listen(demo.app);
}

async function connection(baseUrl: string): Promise<Socket> {
  const socket = await openConnection(baseUrl);
  sockets.push(socket);
  return socket;
}

/** Writes the head of a POST whose body will never finish arriving. */
function slowPost(socket: Socket, path: string, headers: string[]): void {
  const head = [
    `POST ${path} HTTP/1.1`,
    'Host: t',
    'Content-Type: application/json',
    'Content-Length: 100000',
    ...headers,
  ];
  socket.write(`${head.join('\r\n')}\r\n\r\n{`);
}

describe('upgrade requests', () => {
  it('with a target that is not a URL get a plain 400 and lose their connection', async () => {
    // Found by the fuzzer: Fastify's bad-URL answer kept the upgraded socket open.
    const baseUrl = await start();
    const response = await rawRequest(
      baseUrl,
      'GET *?state=s3cret HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      5_000,
    );
    expect(response.statusCode).toBe(400);
    expect(response.text).toContain('The request target is not a valid URL.');
    expect(response.text).not.toContain('s3cret');
    expect(response.elapsedMs).toBeLessThan(3_000);
  });
});

describe('slow clients', () => {
  it('lose their connection once their request is answered, even while the body still arrives', async () => {
    const baseUrl = await start();
    const socket = await connection(baseUrl);
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
    });
    // No bearer token: answered 401 before the body is read.
    slowPost(socket, '/openid-ciba-callback', []);
    const drip = setInterval(() => socket.write('a'), 200);
    const closedAfterMs = await Promise.race([closed(socket), sleepMs(5_000, -1)]);
    clearInterval(drip);
    expect(answer).toMatch(/^HTTP\/1\.1 401/);
    expect(closedAfterMs).toBeGreaterThanOrEqual(0);
  });

  it('lose their connection at the request deadline when their body never ends', async () => {
    const baseUrl = await start({ REQUEST_TIMEOUT_MS: '1500' });
    const socket = await connection(baseUrl);
    // Any well-formed bearer token passes the Powens route's header check.
    slowPost(socket, '/powens-webhook/x.biapi.pro/E', ['Authorization: Bearer anything']);
    const drip = setInterval(() => socket.write('a'), 200);
    const closedAfterMs = await Promise.race([closed(socket), sleepMs(10_000, -1)]);
    clearInterval(drip);
    // Node alone would wait for its connection check, or for ever (requestTimeout 0).
    expect(closedAfterMs).toBeGreaterThan(1_000);
    expect(closedAfterMs).toBeLessThan(5_000);
    expect(demo?.logs.join('')).toContain('request timed out');
  });

  it('from one address hold at most MAX_CONNECTIONS_PER_IP connections', async () => {
    const baseUrl = await start({ MAX_CONNECTIONS_PER_IP: '3' });
    const held = await Promise.all([1, 2, 3].map(() => connection(baseUrl)));
    const fourth = await connection(baseUrl);
    expect(await Promise.race([closed(fourth), sleepMs(3_000, -1)])).toBeGreaterThanOrEqual(0);
    for (const socket of held) expect(socket.destroyed).toBe(false);
    // A connection closed frees its place.
    held[0]!.destroy();
    await sleepMs(200, 0);
    const response = await rawRequest(
      baseUrl,
      'GET /livez HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n',
    );
    expect(response.statusCode).toBe(200);
  });
});

function sleepMs<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}
