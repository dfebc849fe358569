import type { Socket } from 'node:net';
import { waitFor } from '@teal/amq-core/testing';
import { powensWebhookMessage } from '@teal/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listen, startTestDemo, type TestDemo } from './helpers/server';
import { basic, TestSocket } from './helpers/websocket';

let demo: TestDemo;
let baseUrl: string;

beforeEach(async () => {
  demo = await startTestDemo({ env: { DISPATCHER_PASSWORD: 'pw', WS_MAX_FRAME_BYTES: '1024' } });
  baseUrl = await listen(demo.app);
});
afterEach(async () => {
  await demo.close();
});

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly err?: { readonly stack?: string };
}

function lines(): LogLine[] {
  return demo.logs.map((line) => JSON.parse(line) as LogLine);
}

const open = () => TestSocket.open(baseUrl, { headers: basic('anonymous', 'pw') });

describe('dispatcher logs', () => {
  it.each([
    [
      'invalid UTF-8',
      (socket: TestSocket) =>
        socket.socket.send(Buffer.from([0x7b, 0xff, 0xfe]), { binary: false }),
      1007,
    ],
    ['an oversized frame', (socket: TestSocket) => socket.send('x'.repeat(2_000)), 1009],
  ])('log a client sending %s once, at info, without a stack', async (_what, misbehave, code) => {
    const socket = await open();
    misbehave(socket);
    await waitFor(() => socket.closeCode !== null, 'the socket to close');
    expect(socket.closeCode).toBe(code);
    await waitFor(
      () => lines().some((line) => line.msg.includes('the client broke the protocol')),
      'the log line',
    );
    const logged = lines().filter((line) => /^websocket (closed|failed)/.test(line.msg));
    expect(logged).toHaveLength(1);
    expect(logged[0]!.level).toBe(30);
    expect(JSON.stringify(lines())).not.toContain('"stack"');
    expect(lines().filter((line) => line.level >= 50)).toEqual([]);
  });

  it('answer a binary frame with an error frame, logging nothing above info', async () => {
    const socket = await open();
    socket.socket.send(Buffer.from('{}'), { binary: true });
    const answer = await socket.next((frame) => frame.type === 'error', 'an error frame');
    expect(answer.error).toContain('binary');
    await socket.close();
    expect(lines().filter((line) => line.level > 30)).toEqual([]);
  });

  it('write one warning for a reader that does not keep up, however many messages follow', async () => {
    const socket = await open();
    await socket.request({
      register_to: { type: 'powens_domain', powens_domain: 'slow.biapi.pro' },
    });
    // The client stops reading: the server's send buffer fills up.
    (socket.socket as unknown as { _socket: Socket })._socket.pause();
    const payload = 'p'.repeat(100_000);
    for (let index = 0; index < 300; index++) {
      await demo.peer.send(
        powensWebhookMessage({ domain: 'slow.biapi.pro', event: 'E', payload, userToken: 't' }),
      );
    }
    const isSlowWarning = (line: LogLine) => line.msg.includes('does not keep up');
    await waitFor(() => lines().some(isSlowWarning), 'the warning', 20_000);
    // The rest of the messages reach the closed connection: no more lines.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(lines().filter(isSlowWarning)).toHaveLength(1);
    socket.socket.terminate();
  });
});
