import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  MessageDecodeError,
  type MessageKind,
  routingKeyOf,
} from '../src/index';

interface Vector {
  name: string;
  exchange: string;
  routing_key?: string;
  wire: string;
  note: string;
}

const vectors = JSON.parse(
  readFileSync(
    fileURLToPath(new URL('../../../../shared/vectors/messages.json', import.meta.url)),
    'utf8',
  ),
) as { valid: Vector[]; invalid: Vector[] };

const KIND_OF_EXCHANGE: Record<string, MessageKind> = {
  callbacks: 'callback',
  openid_ciba_callbacks: 'openid_ciba_callback',
  powens_domain_webhooks: 'powens_webhook',
};

/** Every datetime string in a wire object, by path, as an instant (naive = UTC). */
function instants(value: unknown, path = ''): Record<string, number> {
  const found: Record<string, number> = {};
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const naive = !/(Z|[+-]\d{2}:?\d{2})$/.test(value);
    // Date parses microseconds poorly; keep milliseconds, as the codec does.
    const trimmed = value.replace(/(\.\d{3})\d+/, '$1');
    found[path] = Date.parse(naive ? `${trimmed}Z` : trimmed);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      Object.assign(found, instants(inner, path ? `${path}.${key}` : key));
    }
  }
  return found;
}

function withoutInstants(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (_key, inner) =>
    typeof inner === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(inner) ? '<instant>' : inner,
  );
}

describe('golden vectors written by the Python original', () => {
  it('holds valid and invalid vectors', () => {
    expect(vectors.valid.length).toBeGreaterThanOrEqual(10);
    expect(vectors.invalid.length).toBeGreaterThanOrEqual(5);
  });

  for (const vector of vectors.valid) {
    it(`decodes, re-encodes and decodes again: ${vector.name}`, () => {
      const kind = KIND_OF_EXCHANGE[vector.exchange]!;
      const message = decodeMessage(kind, vector.wire);
      expect(message.kind).toBe(kind);
      expect(routingKeyOf(message)).toBe(vector.routing_key);

      const original = JSON.parse(vector.wire) as Record<string, unknown>;
      const encoded = encodeMessage(message);
      const reencoded = JSON.parse(encoded) as Record<string, unknown>;
      // Same fields and values (unknown fields are dropped), same instants.
      const known = Object.fromEntries(Object.keys(reencoded).map((key) => [key, original[key]]));
      expect(withoutInstants(reencoded)).toEqual(withoutInstants(known));
      expect(instants(reencoded)).toEqual(instants(known));
      expect(Object.keys(instants(known)).length).toBeGreaterThan(0);

      expect(decodeMessage(kind, encoded)).toEqual(message);
      expect(decodeMessage(kind, new TextEncoder().encode(vector.wire))).toEqual(message);
    });
  }

  it('reads a +02:00 offset as the instant it names', () => {
    const vector = vectors.valid.find((v) => v.name === 'callback-aware-timestamp')!;
    const message = decodeMessage('callback', vector.wire);
    expect(message.timestamp.toISOString()).toBe('2023-06-01T12:34:56.500Z');
  });

  it('reads a naive timestamp as UTC', () => {
    const vector = vectors.valid.find((v) => v.name === 'callback-basic')!;
    expect(decodeMessage('callback', vector.wire).timestamp.toISOString()).toBe(
      '2023-06-01T12:34:56.789Z',
    );
  });

  for (const vector of vectors.invalid) {
    it(`rejects ${vector.name} (${vector.note})`, () => {
      const kind = KIND_OF_EXCHANGE[vector.exchange]!;
      let caught: unknown;
      try {
        decodeMessage(kind, vector.wire);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(MessageDecodeError);
      const error = caught as MessageDecodeError;
      expect(error.kind).toBe(kind);
      expect(error.message).toContain(error.field ?? 'body');
      expect(error.reason.length).toBeGreaterThan(0);
    });
  }
});
