import {
  callbackMessage,
  decodeMessage,
  type MessageKind,
  openIDCIBACallbackMessage,
  parseDatetime,
  powensWebhookMessage,
} from '@teal/messages';
import { describe, expect, it } from 'vitest';
import {
  acknowledgementFrame,
  type ClientFrame,
  creationFailureFrame,
  creationFailureOf,
  errorFrame,
  messageFrame,
  parseClientFrame,
  type Registration,
} from '../src/dispatcher/protocol';
import { dispatcherVectors, KIND_OF_EXCHANGE, memberOrder } from './helpers/dispatcher-vectors';

/** A parsed frame as the Python models' `parsed` shows it (datetimes as instants). */
function asPython(frame: ClientFrame): unknown {
  return {
    create: frame.create && {
      type: 'callback',
      state: frame.create.state,
      final_redirect_url: frame.create.finalRedirectUrl,
      with_fragment: frame.create.withFragment,
      expires_at: frame.create.expiresAt.getTime(),
    },
    register_to: frame.registerTo && targetOf(frame.registerTo),
  };
}

function targetOf(registration: Registration): unknown {
  return JSON.parse(acknowledgementFrame('register_to', registration)).register_to;
}

function parsed(text: string): ClientFrame {
  const frame = parseClientFrame(text);
  if ('error' in frame) throw new Error(`refused: ${frame.error}`);
  return frame;
}

describe('client frames of the Python models (dispatcher.json)', () => {
  it.each(dispatcherVectors.client_valid)('accepts $frame as pydantic does', (vector) => {
    const expected = vector.parsed as { create: { expires_at: string } | null };
    const withInstant = expected.create && {
      ...expected.create,
      expires_at: parseDatetime(expected.create.expires_at)?.getTime(),
    };
    expect(asPython(parsed(vector.frame))).toEqual({ ...expected, create: withInstant });
  });

  it.each(dispatcherVectors.client_invalid)('skips %s, as pydantic refuses it', (frame) => {
    expect(parseClientFrame(frame)).toHaveProperty('error');
  });
});

describe('parseClientFrame', () => {
  it('reads explicit nulls as absent members, and both parts of one frame', () => {
    expect(parsed('{"create": null, "register_to": null}')).toEqual({
      create: null,
      registerTo: null,
      unregisterFrom: null,
    });
    const both = parsed(
      JSON.stringify({
        create: {
          type: 'callback',
          state: 's',
          final_redirect_url: null,
          with_fragment: false,
          expires_at: 1_900_000_000,
        },
        register_to: { type: 'powens_domain', powens_domain: 'ex.biapi.pro' },
      }),
    );
    expect(both.create?.expiresAt.toISOString()).toBe('2030-03-17T17:46:40.000Z');
    // The full domain, as messages carry it and the Python dispatcher binds it.
    expect(both.registerTo).toEqual({ kind: 'powens_webhook', key: 'ex.biapi.pro' });
  });

  it('reads Unix times in seconds or milliseconds, as pydantic 1.10 does', () => {
    const at = (expires_at: unknown) =>
      parsed(
        JSON.stringify({ create: { type: 'callback', state: 's', expires_at } }),
      ).create?.expiresAt.toISOString();
    expect(at(1_900_000_000_000)).toBe('2030-03-17T17:46:40.000Z');
    expect(at('1900000000.5')).toBe('2030-03-17T17:46:40.500Z');
    expect(at('2030-01-01T00:00:00')).toBe('2030-01-01T00:00:00.000Z');
  });

  it('reads the extension unregister_from', () => {
    expect(
      parsed('{"unregister_from": {"type": "callback", "state": "s"}}').unregisterFrom,
    ).toEqual({ kind: 'callback', key: 's' });
  });

  it.each([
    ['{', 'not JSON'],
    ['"register_to"', 'not a JSON object'],
    ['[]', 'not a JSON object'],
    ['{"register_to": "s"}', 'register_to must be an object'],
    ['{"register_to": {"type": "oauth", "state": "s"}}', 'type must be callback'],
    ['{"register_to": {"type": "callback", "state": ""}}', 'state must be a string'],
    ['{"register_to": {"type": "callback", "state": 5}}', 'state must be a string'],
    [
      `{"register_to": {"type": "callback", "state": "${'s'.repeat(1025)}"}}`,
      'state must be a string of 1 to 1024',
    ],
    ['{"register_to": {"type": "openid_ciba_callback", "state": "s"}}', 'request_id'],
    ['{"create": {"type": "callback", "state": "s", "expires_at": "soon"}}', 'expires_at'],
    ['{"create": {"type": "other", "state": "s", "expires_at": 1}}', 'type must be callback'],
    [
      '{"create": {"type": "callback", "state": "s", "expires_at": 1, "with_fragment": null}}',
      'with_fragment',
    ],
    [
      '{"create": {"type": "callback", "state": "s", "expires_at": 1, "final_redirect_url": "/x"}}',
      'final_redirect_url',
    ],
    // One bad part refuses the whole frame, as a pydantic model does.
    [
      '{"create": {"type": "callback", "state": "s"}, "register_to": {"type": "callback", "state": "s"}}',
      'expires_at',
    ],
  ])('refuses %s with a reason naming the problem', (frame, error) => {
    const result = parseClientFrame(frame);
    expect('error' in result && result.error).toContain(error);
  });
});

describe('creationFailureOf', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const creation = (offsetMs: number) => ({
    state: 's',
    finalRedirectUrl: null,
    withFragment: false,
    expiresAt: new Date(now.getTime() + offsetMs),
  });

  it('takes 10 seconds to 7 days ahead, and refuses outside in the Python words', () => {
    expect(creationFailureOf(creation(10_000), now)).toBeNull();
    expect(creationFailureOf(creation(7 * 86_400_000), now)).toBeNull();
    expect(creationFailureOf(creation(9_999), now)).toBe('Callback expiration date was too early.');
    expect(creationFailureOf(creation(7 * 86_400_000 + 1), now)).toBe(
      'Callback expiration was too late; a maximum of 7 days is enforced.',
    );
  });

  it('writes the failure frame as the Python models do', () => {
    expect(creationFailureFrame('s-13', 'Callback expiration date was too early.')).toBe(
      dispatcherVectors.creation_failure_example,
    );
  });
});

describe('server frames (dispatcher.json)', () => {
  it.each(dispatcherVectors.server)('writes $message_exchange as the Python models', (vector) => {
    const kind = KIND_OF_EXCHANGE[vector.message_exchange] as MessageKind;
    const frame = messageFrame(decodeMessage(kind, vector.message_body));
    // Same members in the same order, at every level.
    expect(memberOrder(JSON.parse(frame))).toEqual(memberOrder(JSON.parse(vector.frame)));
    // Same values: the same instants, the rest equal.
    expect(decodeMessage(kind, frame)).toEqual(decodeMessage(kind, vector.frame));
    // Naive where the original is naive, with an offset where it has one.
    expect(offsets(frame)).toEqual(offsets(vector.frame));
  });

  it('writes the message kind first, then the wire body', () => {
    const timestamp = new Date('2026-01-02T03:04:05.678Z');
    expect(
      messageFrame(callbackMessage({ url: 'https://l/c?state=s', state: 's', timestamp })),
    ).toBe(
      '{"type":"callback","timestamp":"2026-01-02T03:04:05.678000","url":"https://l/c?state=s","state":"s"}',
    );
    const ciba = openIDCIBACallbackMessage({ requestId: 'r', timestamp });
    expect(JSON.parse(messageFrame(ciba)).type).toBe('openid_ciba_callback');
    const webhook = powensWebhookMessage({
      domain: 'ex.biapi.pro',
      event: 'E',
      payload: '{}',
      userToken: 'u',
      timestamp,
    });
    expect(JSON.parse(messageFrame(webhook)).type).toBe('powens_webhook');
  });

  it("writes this service's outcome frames, for /ws", () => {
    expect(
      JSON.parse(
        acknowledgementFrame('register_to', { kind: 'powens_webhook', key: 'ex.biapi.pro' }),
      ),
    ).toEqual({
      type: 'registered',
      register_to: { type: 'powens_domain', powens_domain: 'ex.biapi.pro' },
    });
    expect(
      JSON.parse(
        acknowledgementFrame('unregister_from', { kind: 'openid_ciba_callback', key: 'r' }),
      ),
    ).toEqual({
      type: 'unregistered',
      unregister_from: { type: 'openid_ciba_callback', request_id: 'r' },
    });
    expect(JSON.parse(errorFrame('bad'))).toEqual({ type: 'error', error: 'bad' });
  });
});

/** Each datetime member of a frame, by path: whether it carries an offset. */
function offsets(frame: string): Record<string, boolean> {
  const found: Record<string, boolean> = {};
  const walk = (value: unknown, path: string) => {
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) {
      found[path] = /(?:Z|[+-]\d{2}:\d{2})$/.test(value);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) walk(inner, `${path}.${key}`);
    }
  };
  walk(JSON.parse(frame), '');
  return found;
}
