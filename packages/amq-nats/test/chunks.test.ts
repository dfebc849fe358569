import { headers, type Msg } from '@nats-io/transport-node';
import { recordLogs } from '@teal/amq-core/testing';
import { describe, expect, it } from 'vitest';
import { contain } from '../src/consumer';
import { MAX_PENDING_SETS, Reassembler } from '../src/consumer-chunks';
import {
  CHUNK_HEADER,
  MIN_CHUNK_BYTES,
  parseChunkHeader,
  splitBody,
} from '../src/publisher-chunks';

const MiB = 1024 * 1024;

/** A received NATS message as the client hands it over: subject, data and headers. */
function chunk(header: string | undefined, data: Uint8Array, subject = 's'): Msg {
  const hdrs = headers();
  if (header !== undefined) hdrs.set(CHUNK_HEADER, header);
  return { subject, data, headers: header === undefined ? undefined : hdrs } as unknown as Msg;
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
    expect(results.at(-1)).toEqual(body);
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
