import * as diagnostics from 'node:diagnostics_channel';
import {
  describeWithBroker,
  recordLogs,
  sleep,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage } from '@teal/messages';
import { afterEach, expect, it } from 'vitest';
import type { RedisStreamsTransport } from '../src/transport';
import { unavailable, useTestBed } from './support/broker';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** The headers of each delivery on `state`, as core's deliver event shows them. */
function deliveredHeaders(state: string): {
  headers: Array<Readonly<Record<string, string>>>;
  stop(): void;
} {
  const headers: Array<Readonly<Record<string, string>>> = [];
  const listener = (message: unknown) => {
    const event = message as { routingKey: string; headers: Readonly<Record<string, string>> };
    if (event.routingKey === state) headers.push(event.headers);
  };
  diagnostics.subscribe('tracing:teal:amq:deliver:start', listener);
  return {
    headers,
    stop: () => diagnostics.unsubscribe('tracing:teal:amq:deliver:start', listener),
  };
}

describeWithBroker('redis-streams headers in stream entries', unavailable, () => {
  const bed = useTestBed();
  const stops: Array<() => void> = [];
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
  });

  const open = async (options: { logger?: ReturnType<typeof recordLogs>['logger'] } = {}) => {
    const handler = await bed.connect(options);
    return { handler, transport: transportOf<RedisStreamsTransport>(handler) };
  };

  /** The fields of the last entry of a key's bucket stream, as Redis holds them. */
  const lastEntry = async (transport: RedisStreamsTransport, state: string) => {
    const stream = transport.keys.bucketStream('callbacks', state);
    const [entry] = (await bed.admin.xrevrangeBuffer(stream, '+', '-', 'COUNT', 1)) as [
      Buffer,
      Buffer[],
    ][];
    const fields = new Map<string, Buffer>();
    for (let i = 0; i + 1 < entry![1].length; i += 2) {
      fields.set(entry![1][i]!.toString(), entry![1][i + 1]!);
    }
    return fields;
  };

  it('writes each header as a field h:<name> beside the body, which stays the Python original’s to the byte; a send without headers writes none', async () => {
    const { transport } = await open();
    const message = callbackMessage({ url: 'https://x.test/cb?traced', state: 'traced' });
    const body = encodeMessage(message);
    const signal = AbortSignal.timeout(10_000);
    await transport.publish('callbacks', 'traced', body, signal, {
      traceparent: TRACEPARENT,
      tracestate: 'teal=1',
    });
    const traced = await lastEntry(transport, 'traced');
    expect([...traced.keys()].sort()).toEqual(['b', 'h:traceparent', 'h:tracestate', 'k', 'm']);
    expect(traced.get('h:traceparent')!.toString()).toBe(TRACEPARENT);
    expect(traced.get('b')!.equals(Buffer.from(body))).toBe(true);

    await transport.publish('callbacks', 'traced', body, signal);
    const plain = await lastEntry(transport, 'traced');
    expect([...plain.keys()].sort()).toEqual(['b', 'k', 'm']);
  });

  it('leaves out, with one warning that quotes none of them, headers a reader would not take, and sends the message', async () => {
    const { logger, records } = recordLogs();
    const { transport } = await open({ logger });
    const secret = 'Header-Secret-7f3a';
    const body = encodeMessage(callbackMessage({ url: 'https://x.test/cb', state: 'bounded' }));
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x${i}`, secret]));
    const signal = AbortSignal.timeout(10_000);
    await transport.publish('callbacks', 'bounded', body, signal, {
      traceparent: TRACEPARENT,
      big: secret.repeat(1_000),
      'bad name': secret,
      control: `\u001b[2J${secret}`,
      ...many,
    });
    await transport.publish('callbacks', 'bounded', body, signal, { big: secret.repeat(1_000) });
    const fields = await lastEntry(transport, 'bounded');
    expect(fields.has('h:big')).toBe(false);
    const warnings = records.filter((record) => record.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/left out headers/);
    expect(JSON.stringify(records)).not.toContain(secret);
  });

  it('delivers the body of an entry whose headers are out of bounds, with the headers within them and a warning quoting none', async () => {
    const { logger, records } = recordLogs();
    const { handler, transport } = await open({ logger });
    const seen: string[] = [];
    handler.callback = (message) => {
      if (message.kind === 'callback') seen.push(message.url);
    };
    const state = 'foreign-headers';
    await handler.bindCallbackState(state);
    const delivered = deliveredHeaders(state);
    stops.push(delivered.stop);
    const secret = 'Foreign-Secret-91c2';
    const body = encodeMessage(callbackMessage({ url: 'https://x.test/cb?foreign', state }));
    // As a foreign writer would add it: 1 + 1 + 1 + 20 headers, 5 of the 20 past the count.
    // biome-ignore format: field/value pairs
    await bed.admin.xadd(transport.keys.bucketStream('callbacks', state), '*',
      'k', state, 'b', body,
      'h:traceparent', TRACEPARENT,
      'h:tracestate', `${secret}-`.repeat(1_000),
      'h:bad\nname', secret,
      ...Array.from({ length: 20 }, (_, i) => [`h:x${i}`, String(i)]).flat(),
    );
    await waitFor(() => seen.length === 1, 'the message');
    await sleep(100);
    expect(seen).toEqual(['https://x.test/cb?foreign']);
    const headers = delivered.headers[0]!;
    expect(headers.traceparent).toBe(TRACEPARENT);
    expect(Object.keys(headers)).toHaveLength(16);
    expect(headers.tracestate).toBeUndefined();
    expect(headers.x14).toBe('14');
    expect(headers.x15).toBeUndefined();
    const warning = records.find((record) => /left out headers/.test(record.message));
    expect(warning?.fields).toMatchObject({ headers: 7 });
    expect(JSON.stringify(records)).not.toContain(secret);
  });
});
