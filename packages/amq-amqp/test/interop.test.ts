import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import * as diagnostics from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type AMQExchangeName, exchangeOf } from '@teal/amq-core';
import { describeWithBroker, waitFor } from '@teal/amq-core/testing';
import {
  callbackMessage,
  encodeMessage,
  type Message,
  openIDCIBACallbackMessage,
  parseDatetime,
  powensWebhookMessage,
  routingKeyOf,
} from '@teal/messages';
import { expect, it } from 'vitest';
import {
  AMQP_URL,
  cleanupsAfterEach,
  handlerMaker,
  isolatedPrefix,
  probeRabbit,
} from './support/broker';

/** Debian's python3 with python3-aio-pika and python3-pydantic (1.x), not a pyenv shim. */
const PYTHON = process.env.TEAL_INTEROP_PYTHON ?? '/usr/bin/python3';
const PEER = fileURLToPath(new URL('./python/peer.py', import.meta.url));
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const TRACESTATE = 'teal=t61rcWkgMzE';

async function pythonUnavailable(): Promise<string | null> {
  try {
    await promisify(execFile)(PYTHON, [
      '-c',
      'import aio_pika, pydantic; assert pydantic.VERSION.startswith("1."), pydantic.VERSION',
    ]);
    return null;
  } catch {
    return `${PYTHON} cannot import aio_pika and pydantic 1.x (apt-get install python3-aio-pika python3-pydantic)`;
  }
}

const unavailable = (await probeRabbit()) ?? (await pythonUnavailable());

/** The messages both sides exchange: every kind, nested optionals, unicode keys. */
function samples(tag: string): Message[] {
  const at = new Date('2024-05-06T07:08:09.123Z');
  return [
    callbackMessage({
      url: `https://x.test/cb?state=${tag}&code=c#f=1`,
      state: `s-${tag}`,
      timestamp: at,
    }),
    callbackMessage({ url: 'https://x.test/cb?state=état', state: `état/½ ${tag}`, timestamp: at }),
    openIDCIBACallbackMessage({
      requestId: `ping-${tag}`,
      accessToken: 'notif-token',
      timestamp: at,
    }),
    openIDCIBACallbackMessage({
      requestId: `push-${tag}`,
      accessToken: 'notif-token',
      timestamp: at,
      pushToken: {
        accessToken: 'at',
        tokenType: 'Bearer',
        refreshToken: 'rt',
        expiresAt: new Date('2024-05-06T08:08:09.456Z'),
        idToken: null,
      },
    }),
    openIDCIBACallbackMessage({
      requestId: `error-${tag}`,
      timestamp: at,
      pushError: { error: 'access_denied', errorDescription: 'The end-user denied it.' },
    }),
    powensWebhookMessage({
      domain: `${tag}.biapi.pro`,
      event: 'USER_CREATED',
      payload: '{"user":{"id":1},"note":"é ☃"}',
      userToken: 'user-token',
      timestamp: at,
      hmacSignature: {
        signature: 'c2lnbmF0dXJl',
        payloadPrefix: 'POST./powens-webhook/x/USER_CREATED.2024-05-06T07:08:09Z.',
        signatureDate: new Date('2024-05-06T07:08:09.000Z'),
      },
    }),
  ];
}

/** A message as the Python peer hands it over: its wire fields, parsed. */
function wireFields(message: Message): Record<string, unknown> {
  return JSON.parse(encodeMessage(message)) as Record<string, unknown>;
}

// What encoders write: naive UTC with microseconds, or the same with +00:00.
const WRITTEN_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(?:\+00:00)?$/;

/** A message as the Python peer prints what it parsed: datetimes in UTC, ms, `Z`. */
function printedByPeer(message: Message): Record<string, unknown> {
  return JSON.parse(encodeMessage(message), (_key, value: unknown) =>
    typeof value === 'string' && WRITTEN_DATETIME.test(value)
      ? parseDatetime(value)?.toISOString()
      : value,
  ) as Record<string, unknown>;
}

describeWithBroker('amqp interop with a Python aio-pika + pydantic peer', unavailable, () => {
  const cleanups = cleanupsAfterEach();

  function subscribe(channel: string, listener: (message: unknown) => void): void {
    diagnostics.subscribe(channel, listener);
    cleanups.push(async () => diagnostics.unsubscribe(channel, listener));
  }

  const isolated = () => isolatedPrefix(cleanups);

  const handlerOn = handlerMaker(cleanups);
  const handler = (exchangePrefix: string) => handlerOn({ exchangePrefix });

  function peer(
    args: string[],
    stdin = '',
  ): { child: ChildProcessWithoutNullStreams; lines: string[]; exitCode: Promise<number | null> } {
    const child = spawn(PYTHON, [PEER, ...args]);
    cleanups.push(async () => child.kill());
    const lines: string[] = [];
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => process.stderr.write(chunk));
    child.stdin.end(stdin);
    const exitCode = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { child, lines, exitCode };
  }

  it('delivers what a Python teal.amq peer sends, field for field', async () => {
    const exchangePrefix = isolated();
    // The TS handler declares the exchanges first; the Python peer then redeclares them.
    const receiver = await handler(exchangePrefix);
    const received: Message[] = [];
    receiver.callback = (message) => {
      received.push(message);
    };
    const expected = samples('py');
    for (const message of expected) await receiver.bind(message.kind, routingKeyOf(message));
    await receiver.bindCallbackState('default-timestamp');
    const headers: unknown[] = [];
    subscribe('tracing:teal:amq:deliver:start', (event) => {
      headers.push((event as { headers: unknown }).headers);
    });
    const specs = expected.map((message) => ({
      exchange: exchangeOf(message),
      fields: wireFields(message),
    }));
    // Python's default timestamp: a naive datetime.utcnow(), which must read as UTC.
    specs.push({
      exchange: 'callbacks',
      fields: { url: 'https://x.test/cb?state=default-timestamp', state: 'default-timestamp' },
    });
    const sentAt = Date.now();
    const { lines, exitCode } = peer(['send', AMQP_URL, exchangePrefix], JSON.stringify(specs));
    expect(await exitCode).toBe(0);
    expect(lines).toContain('SENT');
    await waitFor(() => received.length >= specs.length, 'the Python messages', 30_000);
    expect(received.slice(0, expected.length)).toEqual(expected);
    const last = received[expected.length]!;
    expect(last).toMatchObject({ kind: 'callback', state: 'default-timestamp' });
    expect(Math.abs(last.timestamp.getTime() - sentAt)).toBeLessThan(60_000);
    // aio-pika sends no trace context: the deliveries come without headers, and nothing breaks.
    expect(headers).toEqual(specs.map(() => ({})));
  });

  it('sends what a Python teal.amq peer parses with its pydantic models, field for field', async () => {
    const exchangePrefix = isolated();
    const messages = samples('ts');
    const byExchange = new Map<AMQExchangeName, Message[]>();
    for (const message of messages) {
      byExchange.set(exchangeOf(message), [
        ...(byExchange.get(exchangeOf(message)) ?? []),
        message,
      ]);
    }
    // One Python receiver per message, each declaring the exchanges before the TS handler exists.
    const receivers = messages.map((message) =>
      peer(['receive', AMQP_URL, exchangePrefix, exchangeOf(message), routingKeyOf(message), '1']),
    );
    await waitFor(
      () => receivers.every(({ lines }) => lines.includes('READY')),
      'the Python receivers to bind',
      30_000,
    );
    const sender = await handler(exchangePrefix);
    for (const message of messages) await sender.send(message);
    await waitFor(
      () => receivers.every(({ lines }) => lines.length >= 2),
      'the Python receivers to parse their message',
      30_000,
    );
    receivers.forEach(({ lines }, index) => {
      expect(JSON.parse(lines[1]!)).toEqual(printedByPeer(messages[index]!));
    });
  });

  it('hands a Python peer the trace context in the message headers, its body parsed as before', async () => {
    const exchangePrefix = isolated();
    const message = samples('traced')[0]!;
    const key = routingKeyOf(message);
    subscribe('tracing:teal:amq:send:start', (event) => {
      const send = event as { routingKey: string; headers: Record<string, string> };
      if (send.routingKey !== key) return;
      send.headers.traceparent = TRACEPARENT;
      send.headers.tracestate = TRACESTATE;
    });
    const receiver = peer(['receive', AMQP_URL, exchangePrefix, exchangeOf(message), key, '1']);
    await waitFor(() => receiver.lines.includes('READY'), 'the Python receiver to bind', 30_000);
    const sender = await handler(exchangePrefix);
    await sender.send(message);
    await waitFor(() => receiver.lines.length >= 3, 'the Python receiver to parse it', 30_000);
    expect(JSON.parse(receiver.lines[1]!)).toEqual(printedByPeer(message));
    const meta = JSON.parse(receiver.lines[2]!.replace(/^META /, '')) as {
      headers: Record<string, string>;
      body: string;
    };
    expect(meta.body).toBe(encodeMessage(message));
    expect(meta.headers).toEqual({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
  });
});
