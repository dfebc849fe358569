import { headers, type Msg } from '@nats-io/transport-node';
import { recordLogs } from '@teal/amq-core/testing';
import { describe, expect, it } from 'vitest';
import { contain } from '../src/consumer';
import { MAX_PENDING_SETS, Reassembler } from '../src/consumer-chunks';
import {
  CHUNK_HEADER,
  decodeMetadata,
  encodeMetadata,
  MAX_METADATA_CHARS,
  MAX_METADATA_HEADERS,
  MIN_CHUNK_BYTES,
  type Part,
  parseChunkHeader,
  splitBody,
} from '../src/publisher-chunks';

const MiB = 1024 * 1024;

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** A received NATS message as the client hands it over: subject, data and headers. */
function chunk(
  header: string | undefined,
  data: Uint8Array,
  subject = 's',
  extra: Record<string, string> = {},
): Msg {
  const hdrs = headers();
  if (header !== undefined) hdrs.set(CHUNK_HEADER, header);
  for (const [name, value] of Object.entries(extra)) hdrs.set(name, value);
  const hasHeaders = header !== undefined || Object.keys(extra).length > 0;
  return { subject, data, headers: hasHeaders ? hdrs : undefined } as unknown as Msg;
}

/** What a part weighs on the wire: its data and its headers as NATS encodes them. */
function wireBytes(part: Part): number {
  const encoded = (part.headers as unknown as { encode(): Uint8Array } | undefined)?.encode();
  return part.data.length + (encoded?.length ?? 0);
}

function setup(maxMessageBytes = 64 * MiB) {
  const { logger, records } = recordLogs();
  const reassembler = new Reassembler(logger, 60_000, maxMessageBytes);
  const warnings = () => records.filter((record) => record.level === 'warn');
  return { reassembler, records, warnings };
}

describe('chunk headers', () => {
  it('accepts every header a sender writes', () => {
    const body = new Uint8Array(200_000).map((_, i) => i % 251);
    for (const limit of [2 * MIN_CHUNK_BYTES, 65_536, 1_048_576 / 8]) {
      const parts = splitBody(body, limit, 64 * MiB);
      for (const part of parts) {
        expect(parseChunkHeader(part.headers!.get(CHUNK_HEADER), 64 * MiB)).toBeDefined();
      }
    }
  });

  it('refuses headers no sender writes: absurd counts, indexes past the count, totals over the limit, junk', () => {
    const absurd = [
      'x 0 99999999999 10',
      'x 0 5000 10',
      'x 0 3 3000000',
      'x 3 3 3000',
      'x -1 2 3000',
      'x 0 2',
      'x 0 2 3000 extra',
      'x 0 0 3000',
      'x 0 2 0',
      'x 0 2 3e3',
      'x 0 2 0x10',
      '  ',
      ' 0 2 3000',
      'x.y 0 2 3000',
      `${'x'.repeat(65)} 0 2 3000`,
      `x 0 2 ${'9'.repeat(100_000)}`,
      'x 0 65537 67108864',
    ];
    for (const header of absurd)
      expect(parseChunkHeader(header, 1_000_000), header).toBeUndefined();
    expect(parseChunkHeader('x 0 65536 67108864', 64 * MiB)).toBeDefined();
  });
});

describe('reassembler', () => {
  it('puts a split body back together', () => {
    const { reassembler, warnings } = setup();
    const body = new Uint8Array(100_000).map((_, i) => i % 7);
    const parts = splitBody(body, 16_384, 64 * MiB);
    const results = parts.map((part) =>
      reassembler.accept('callbacks', chunk(part.headers!.get(CHUNK_HEADER), part.data)),
    );
    expect(results.slice(0, -1).every((result) => result === undefined)).toBe(true);
    expect(results.at(-1)?.body).toEqual(body);
    expect(reassembler.pendingBytes).toBe(0);
    expect(warnings()).toEqual([]);
  });

  it('drops a forged header with a warning naming sizes only, and holds nothing for it', () => {
    const { reassembler, warnings, records } = setup();
    const secret = new TextEncoder().encode('secret-token');
    expect(reassembler.accept('callbacks', chunk('x 0 99999999999 10', secret))).toBeUndefined();
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]?.fields).toEqual({ exchange: 'callbacks', chunkBytes: secret.length });
    expect(JSON.stringify(records)).not.toContain('secret');
    expect(reassembler.pendingBytes).toBe(0);
  });

  it('drops a set whose chunks do not fit the size its first chunk set', () => {
    const { reassembler, warnings } = setup();
    expect(reassembler.accept('callbacks', chunk('a 0 2 3000', new Uint8Array(1000)))).toBe(
      undefined,
    );
    expect(warnings()).toHaveLength(1);
    reassembler.accept('callbacks', chunk('b 0 3 3000', new Uint8Array(1024)));
    reassembler.accept('callbacks', chunk('b 1 3 3000', new Uint8Array(5)));
    expect(warnings()).toHaveLength(2);
    expect(reassembler.pendingBytes).toBe(0);
    // The set is gone: its remaining chunks are ignored quietly.
    expect(reassembler.accept('callbacks', chunk('b 2 3 3000', new Uint8Array(952)))).toBe(
      undefined,
    );
    expect(warnings()).toHaveLength(2);
  });

  it(`holds at most ${MAX_PENDING_SETS} incomplete sets, dropping the oldest with a warning`, () => {
    const { reassembler, warnings } = setup();
    for (let set = 0; set < MAX_PENDING_SETS + 10; set++) {
      reassembler.accept('callbacks', chunk(`set${set} 0 3 3000`, new Uint8Array(1024)));
    }
    expect(warnings()).toHaveLength(10);
    expect(reassembler.pendingBytes).toBe(MAX_PENDING_SETS * 1024);
    // The newest sets are still there: their second chunks are taken.
    reassembler.accept(
      'callbacks',
      chunk(`set${MAX_PENDING_SETS + 9} 1 3 3000`, new Uint8Array(1024)),
    );
    expect(reassembler.pendingBytes).toBe(MAX_PENDING_SETS * 1024 + 1024);
  });

  it('holds at most twice maxMessageBytes of incomplete sets, dropping the oldest', () => {
    const { reassembler, warnings } = setup(100_000);
    const size = 10_000;
    for (let set = 0; set < 30; set++) {
      for (let index = 0; index < 9; index++) {
        reassembler.accept('callbacks', chunk(`s${set} ${index} 10 100000`, new Uint8Array(size)));
      }
    }
    expect(reassembler.pendingBytes).toBeLessThanOrEqual(200_000);
    expect(warnings().length).toBeGreaterThan(0);
  });
});

describe('metadata headers', () => {
  it("carries trace context, and leaves out what NATS cannot carry, ours, the server's and what is past the bounds", () => {
    const { metadata, skipped } = encodeMetadata({
      traceparent: TRACEPARENT,
      tracestate: 'teal=t61rcWkgMzE',
      'bad name': 'x',
      'with:colon': 'x',
      split: 'a\r\nNats-Msg-Id: forged',
      'Teal-Chunk': 'x 0 2 3000',
      'Nats-Msg-Id': 'forged',
      huge: 'x'.repeat(MAX_METADATA_CHARS),
    });
    expect(skipped).toBe(6);
    expect(metadata?.headers.get('traceparent')).toBe(TRACEPARENT);
    expect(metadata?.headers.keys().sort()).toEqual(['traceparent', 'tracestate']);
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`h${i}`, 'v']));
    expect(encodeMetadata(many).skipped).toBe(40 - MAX_METADATA_HEADERS);
    expect(encodeMetadata({}).metadata).toBeUndefined();
  });

  it("reads received metadata in lower case, bounded, never ours or the server's", () => {
    const received = headers();
    received.set('Traceparent', TRACEPARENT);
    received.set(CHUNK_HEADER, 'x 0 2 3000');
    received.set('Nats-Msg-Id', 'id');
    received.set('X-Big', 'x'.repeat(MAX_METADATA_CHARS));
    expect(decodeMetadata(received)).toEqual({
      metadata: { traceparent: TRACEPARENT },
      skipped: 1,
    });
    const flood = headers();
    for (let i = 0; i < 1_000; i++) flood.set(`h${i}`, 'v');
    expect(decodeMetadata(flood)).toEqual({ metadata: undefined, skipped: 1_000 });
  });

  it('rides the first chunk only, every part within the limit, and comes back with the whole body', () => {
    const { reassembler, warnings } = setup();
    const { metadata } = encodeMetadata({ traceparent: TRACEPARENT, tracestate: 'a=1' });
    const body = new Uint8Array(100_000).map((_, i) => i % 7);
    const limit = 16_384;
    const parts = splitBody(body, limit, 64 * MiB, metadata);
    expect(parts.map((part) => part.headers?.get('traceparent'))).toEqual([
      TRACEPARENT,
      ...parts.slice(1).map(() => ''),
    ]);
    for (const part of parts) expect(wireBytes(part)).toBeLessThanOrEqual(limit);
    const results = parts.map((part) =>
      reassembler.accept('callbacks', {
        subject: 's',
        data: part.data,
        headers: part.headers,
      } as unknown as Msg),
    );
    expect(results.at(-1)?.body).toEqual(body);
    expect(results.at(-1)?.headers).toEqual({ traceparent: TRACEPARENT, tracestate: 'a=1' });
    expect(warnings()).toEqual([]);
    const [single] = splitBody(new Uint8Array(10), limit, 64 * MiB, metadata);
    expect(single?.headers?.get('traceparent')).toBe(TRACEPARENT);
    expect(splitBody(new Uint8Array(10), limit, 64 * MiB)[0]?.headers).toBeUndefined();
  });

  it('delivers a body whose metadata is hostile without it, warning with a count only', () => {
    const { reassembler, records, warnings } = setup();
    const secret = 'Hostile-Secret-metadata';
    const whole = reassembler.accept(
      'callbacks',
      chunk(undefined, new Uint8Array([1, 2, 3]), 's', {
        traceparent: `${secret}${'0'.repeat(MAX_METADATA_CHARS)}`,
      }),
    );
    expect(whole).toEqual({ body: new Uint8Array([1, 2, 3]), headers: undefined });
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]?.fields).toEqual({ exchange: 'callbacks', droppedHeaders: 1 });
    expect(JSON.stringify(records)).not.toContain(secret);
  });
});

describe('contain', () => {
  it('keeps an exception from escaping, naming only its class', () => {
    const { logger, records } = recordLogs();
    expect(() =>
      contain(logger, { exchange: 'callbacks' }, () => {
        throw new RangeError('header says secret-token');
      }),
    ).not.toThrow();
    expect(records).toEqual([
      {
        level: 'warn',
        message: 'dropped a message the adapter could not handle',
        fields: { exchange: 'callbacks', reason: 'RangeError' },
      },
    ]);
  });
});
