import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomKey, transportOf, waitFor } from '@teal/amq-core/testing';
import { decodeMessage, type MessageKind } from '@teal/messages';
import { afterEach, expect, it } from 'vitest';
import { messageFrame } from '../src/dispatcher/protocol';
import { dispatcherVectors, KIND_OF_EXCHANGE } from './helpers/dispatcher-vectors';
import { describeIfAvailable } from './helpers/require';
import { listen, startTestDemo, type TestDemo } from './helpers/server';

/** Debian's python3 with python3-pydantic (1.x) and python3-websockets, not a pyenv shim. */
const PYTHON = process.env.TEAL_INTEROP_PYTHON ?? '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('./python/client.py', import.meta.url));

async function pythonUnavailable(): Promise<string | null> {
  try {
    await promisify(execFile)(PYTHON, [
      '-c',
      'import websockets, pydantic; assert pydantic.VERSION.startswith("1."), pydantic.VERSION',
    ]);
    return null;
  } catch {
    return `${PYTHON} cannot import pydantic 1.x and websockets (apt-get install python3-pydantic python3-websockets)`;
  }
}

interface Python {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[];
  readonly exitCode: Promise<number | null>;
}

const children: ChildProcessWithoutNullStreams[] = [];
let demo: TestDemo | null = null;
afterEach(async () => {
  for (const child of children.splice(0)) child.kill();
  await demo?.close();
  demo = null;
});

function python(args: string[], stdin?: string): Python {
  const child = spawn(PYTHON, [CLIENT, ...args]);
  children.push(child);
  const lines: string[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => process.stderr.write(chunk));
  if (stdin !== undefined) child.stdin.end(stdin);
  const exitCode = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, lines, exitCode };
}

/** Each frame as the Python models parse it (see `describe()` in client.py). */
async function parsedByPython(mode: 'parse-server' | 'parse-client', frames: readonly string[]) {
  const run = python([mode], `${frames.join('\n')}\n`);
  expect(await run.exitCode).toBe(0);
  return run.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describeIfAvailable(
  'a Python client on the original pydantic models',
  await pythonUnavailable(),
  () => {
    it('parses every server frame this service writes as the vector frame of dispatcher.json', async () => {
      const ours = dispatcherVectors.server.map((vector) => {
        const kind = KIND_OF_EXCHANGE[vector.message_exchange] as MessageKind;
        return messageFrame(decodeMessage(kind, vector.message_body));
      });
      const theirs = dispatcherVectors.server.map((vector) => vector.frame);
      const [parsedOurs, parsedTheirs] = [
        await parsedByPython('parse-server', ours),
        await parsedByPython('parse-server', theirs),
      ];
      expect(parsedOurs).toHaveLength(dispatcherVectors.server.length);
      // Same values, naive where the original's are naive, to the millisecond.
      expect(parsedOurs).toEqual(parsedTheirs);
      expect(parsedOurs.every((parsed) => !('error' in parsed))).toBe(true);
    });

    it('reads the client frames of dispatcher.json as its generator did (the models are faithful)', async () => {
      const valid = await parsedByPython(
        'parse-client',
        dispatcherVectors.client_valid.map((vector) => vector.frame),
      );
      valid.forEach((parsed, index) => {
        const expected = dispatcherVectors.client_valid[index]!.parsed as {
          create: Record<string, unknown> | null;
        };
        const create = parsed.create as Record<string, unknown> | null;
        expect({ ...parsed, create: create && { ...create, expires_at: null } }).toEqual({
          ...expected,
          create: expected.create && { ...expected.create, expires_at: null },
        });
      });
      const invalid = await parsedByPython('parse-client', dispatcherVectors.client_invalid);
      expect(invalid.every((parsed) => 'error' in parsed)).toBe(true);
    });

    it('drives the service: metadata, create with a final redirect, register_to, a callback, the frame and the 302', async () => {
      demo = await startTestDemo({ env: { DISPATCHER_PASSWORD: 'py-password' } });
      const baseUrl = await listen(demo.app);
      const handler = demo.handler;
      const state = randomKey('py');
      const finalUrl = 'https://app.example/done?x=1';
      const client = python(['drive', baseUrl, 'py-password', state, finalUrl]);
      await waitFor(
        () => client.lines.includes('REGISTERED'),
        'the Python client to register',
        30_000,
      );
      // The protocol has no acknowledgement: the test watches the broker binding instead.
      await waitFor(
        () =>
          [...(transportOf(handler).resources?.() ?? [])].includes(`binding callbacks ${state}`),
        'the binding of the state',
      );
      client.child.stdin.end('GO\n');
      expect(await client.exitCode).toBe(0);
      const seen = JSON.parse(client.lines.at(-1)!) as Record<string, Record<string, unknown>>;

      expect(seen.metadata).toEqual({
        server_version: expect.any(String),
        websocket_url: `${baseUrl.replace(/^http/, 'ws')}/websocket`,
        callback_url: `${baseUrl}/callback`,
        errback_url: `${baseUrl}/errback`,
        openid_ciba_callback_url: `${baseUrl}/openid-ciba-callback`,
      });
      expect(seen.failure).toEqual({
        type: 'callback_creation_failure',
        state,
        detail: 'Callback expiration date was too early.',
      });
      expect(seen.callback).toEqual({ status: 302, location: finalUrl });
      expect(seen.frame).toEqual({
        type: 'callback',
        timestamp: { datetime: expect.any(String), aware: false },
        url: `${baseUrl}/callback?state=${state}&code=the-code`,
        state,
      });
      // datetime.utcnow() - timestamp worked (a naive timestamp) and is recent.
      expect(Math.abs(Number(seen.age_seconds))).toBeLessThan(60);
    });
  },
);
