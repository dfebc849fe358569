import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CallbackMessage,
  callbackMessageWire,
  decodeMessage,
  encodeMessage,
  type Message,
  MessageDecodeError,
  type MessageKind,
  MessageValidationError,
  type OpenIDCIBACallbackMessage,
  openIDCIBACallbackMessageWire,
  type PowensWebhookMessage,
  parseDatetime,
  powensWebhookMessageWire,
} from '../src/index';
import { describeIssue } from '../src/issues';

// Enough runs to find shape bugs while the file stays within a few seconds.
const NUM_RUNS = 200;

const FIRST_INSTANT = new Date('0001-01-01T00:00:00.000Z');
const LAST_INSTANT = new Date('9999-12-31T23:59:59.999Z');

// Graphemes give realistic unicode; `binary` adds lone surrogates and control characters.
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
);
const instant = fc.date({ min: FIRST_INSTANT, max: LAST_INSTANT, noInvalidDate: true });
const nullable = <T>(value: fc.Arbitrary<T>) => fc.option(value, { nil: null });

const callbackArbitrary: fc.Arbitrary<CallbackMessage> = fc.record({
  kind: fc.constant('callback' as const),
  timestamp: instant,
  url: text,
  state: text,
});

const cibaArbitrary: fc.Arbitrary<OpenIDCIBACallbackMessage> = fc.record({
  kind: fc.constant('openid_ciba_callback' as const),
  timestamp: instant,
  requestId: text,
  accessToken: nullable(text),
  pushToken: nullable(
    fc.record({
      accessToken: text,
      tokenType: text,
      refreshToken: text,
      expiresAt: instant,
      idToken: nullable(text),
    }),
  ),
  pushError: nullable(fc.record({ error: text, errorDescription: nullable(text) })),
});

const powensArbitrary: fc.Arbitrary<PowensWebhookMessage> = fc.record({
  kind: fc.constant('powens_webhook' as const),
  timestamp: instant,
  domain: text,
  event: text,
  hmacSignature: nullable(
    fc.record({ signature: text, payloadPrefix: text, signatureDate: nullable(instant) }),
  ),
  userToken: nullable(text),
  payload: fc.oneof(text, fc.json()),
});

const messageArbitrary: fc.Arbitrary<Message> = fc.oneof(
  callbackArbitrary,
  cibaArbitrary,
  powensArbitrary,
);

type FieldType = 'string' | 'datetime' | 'object';
interface WireField {
  path: readonly string[];
  type: FieldType;
  /** Whether the decoder must refuse a body without it. */
  isRequired: boolean;
  /** Whether `null` is a valid value. */
  isNullable: boolean;
}

const required = (type: FieldType, ...path: string[]): WireField => ({
  path,
  type,
  isRequired: true,
  isNullable: false,
});
const optional = (type: FieldType, ...path: string[]): WireField => ({
  path,
  type,
  isRequired: false,
  isNullable: true,
});
// A missing timestamp defaults to now, as in pydantic, but null or a wrong type is refused.
const timestampField: WireField = {
  path: ['timestamp'],
  type: 'datetime',
  isRequired: false,
  isNullable: false,
};

const WIRE_FIELDS: Record<MessageKind, readonly WireField[]> = {
  callback: [timestampField, required('string', 'url'), required('string', 'state')],
  openid_ciba_callback: [
    timestampField,
    required('string', 'request_id'),
    optional('string', 'access_token'),
    optional('object', 'push_token'),
    required('string', 'push_token', 'access_token'),
    required('string', 'push_token', 'token_type'),
    required('string', 'push_token', 'refresh_token'),
    required('datetime', 'push_token', 'expires_at'),
    optional('string', 'push_token', 'id_token'),
    optional('object', 'push_error'),
    required('string', 'push_error', 'error'),
    optional('string', 'push_error', 'error_description'),
  ],
  powens_webhook: [
    timestampField,
    required('string', 'domain'),
    required('string', 'event'),
    optional('object', 'hmac_signature'),
    required('string', 'hmac_signature', 'signature'),
    required('string', 'hmac_signature', 'payload_prefix'),
    optional('datetime', 'hmac_signature', 'signature_date'),
    optional('string', 'user_token'),
    required('string', 'payload'),
  ],
};

type WireObject = Record<string, unknown>;

/** The object holding the field at `path`, or undefined when a parent is null. */
function parentOf(wire: WireObject, path: readonly string[]): WireObject | undefined {
  let parent: unknown = wire;
  for (const key of path.slice(0, -1)) {
    parent = (parent as WireObject)[key];
    if (parent === null || typeof parent !== 'object') return undefined;
  }
  return parent as WireObject;
}

const notADatetime = text.filter((candidate) => parseDatetime(candidate) === null);
const wrongValueOf: Record<FieldType, fc.Arbitrary<unknown>> = {
  string: fc.oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  ),
  datetime: fc.oneof(notADatetime, fc.integer(), fc.boolean(), fc.constant([]), fc.constant({})),
  object: fc.oneof(text, fc.integer(), fc.boolean(), fc.array(fc.jsonValue({ maxDepth: 1 }))),
};

type Mutation = { action: 'delete' } | { action: 'replace'; value: unknown };

const mutationArbitrary: fc.Arbitrary<{ pick: number; mutations: Record<FieldType, Mutation> }> =
  fc.record({
    pick: fc.nat(),
    mutations: fc.record({
      string: fc.oneof(
        fc.constant<Mutation>({ action: 'delete' }),
        fc.constant<Mutation>({ action: 'replace', value: null }),
        wrongValueOf.string.map((value): Mutation => ({ action: 'replace', value })),
      ),
      datetime: fc.oneof(
        fc.constant<Mutation>({ action: 'delete' }),
        fc.constant<Mutation>({ action: 'replace', value: null }),
        wrongValueOf.datetime.map((value): Mutation => ({ action: 'replace', value })),
      ),
      object: wrongValueOf.object.map((value): Mutation => ({ action: 'replace', value })),
    }),
  });

/** Whether a mutation makes a field invalid: deleting or nulling it only counts when refused. */
function breaks(field: WireField, mutation: Mutation): boolean {
  if (mutation.action === 'delete') return field.isRequired;
  if (mutation.value === null) return !field.isNullable;
  return true;
}

function decodeErrorOf(kind: MessageKind, body: string): unknown {
  try {
    decodeMessage(kind, body);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('codec properties', () => {
  it('any valid message survives encode then decode unchanged', () => {
    fc.assert(
      fc.property(messageArbitrary, (message) => {
        const body = encodeMessage(message);
        expect(decodeMessage(message.kind, body)).toEqual(message);
        expect(decodeMessage(message.kind, new TextEncoder().encode(body))).toEqual(message);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('unknown fields are ignored and absent optionals read as null', () => {
    const knownKeys = new Set(
      Object.values(WIRE_FIELDS).flatMap((fields) => fields.map((field) => field.path[0]!)),
    );
    const extraFields = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }).filter((key) => !knownKeys.has(key)),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 4 },
    );
    fc.assert(
      fc.property(messageArbitrary, extraFields, (message, extra) => {
        const wire = JSON.parse(encodeMessage(message)) as WireObject;
        for (const [key, value] of Object.entries(wire)) {
          if (value === null) delete wire[key];
        }
        const body = JSON.stringify(Object.assign(extra, wire));
        expect(decodeMessage(message.kind, body)).toEqual(message);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('a missing or mistyped field is refused with an error naming its path', () => {
    fc.assert(
      fc.property(messageArbitrary, mutationArbitrary, (message, { pick, mutations }) => {
        const wire = JSON.parse(encodeMessage(message)) as WireObject;
        const candidates = WIRE_FIELDS[message.kind].filter(
          (field) =>
            parentOf(wire, field.path) !== undefined && breaks(field, mutations[field.type]),
        );
        const field = candidates[pick % candidates.length]!;
        const parent = parentOf(wire, field.path)!;
        const key = field.path.at(-1)!;
        const mutation = mutations[field.type];
        if (mutation.action === 'delete') delete parent[key];
        else parent[key] = mutation.value;

        const error = decodeErrorOf(message.kind, JSON.stringify(wire));
        expect(error).toBeInstanceOf(MessageDecodeError);
        expect((error as MessageDecodeError).field).toBe(field.path.join('.'));
        expect((error as MessageDecodeError).kind).toBe(message.kind);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  // Strings shaped like the datetimes senders write: naive, Z, offsets, microseconds.
  // fast-check favours the bounds, so years 1 and 9999 with offsets come up often.
  const datetimeText = fc
    .tuple(
      instant,
      fc.constantFrom('', 'Z', '+02:00', '-0530', '+00:00'),
      fc.constantFrom('', '123', '012'),
    )
    .map(([date, offset, micros]) => `${date.toISOString().slice(0, 23)}${micros}${offset}`);
  const anyValue = fc.oneof(
    { weight: 4, arbitrary: text },
    { weight: 2, arbitrary: datetimeText },
    { weight: 2, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );
  const nestedKeys = [
    'access_token',
    'token_type',
    'refresh_token',
    'expires_at',
    'id_token',
    'error',
    'error_description',
    'signature',
    'payload_prefix',
    'signature_date',
  ];
  const nearlyMessage = fc.dictionary(
    fc.oneof(
      fc.constantFrom(
        ...Object.values(WIRE_FIELDS).flatMap((fields) => fields.map((f) => f.path[0]!)),
      ),
      fc.string({ maxLength: 6 }),
    ),
    fc.oneof(
      { weight: 5, arbitrary: anyValue },
      { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...nestedKeys), anyValue) },
    ),
    { maxKeys: 9 },
  );

  // A valid wire object with a few fields deleted or replaced by any value, valid or not.
  const editedWire = fc
    .tuple(
      messageArbitrary,
      fc.array(fc.record({ pick: fc.nat(), value: fc.option(anyValue, { nil: undefined }) }), {
        maxLength: 3,
      }),
    )
    .map(([message, edits]): [MessageKind, unknown] => {
      const wire = JSON.parse(encodeMessage(message)) as WireObject;
      for (const { pick, value } of edits) {
        const fields = WIRE_FIELDS[message.kind].filter(
          (field) => parentOf(wire, field.path) !== undefined,
        );
        const field = fields[pick % fields.length]!;
        const parent = parentOf(wire, field.path)!;
        if (value === undefined) delete parent[field.path.at(-1)!];
        else parent[field.path.at(-1)!] = value;
      }
      return [message.kind, wire];
    });
  const kindArbitrary = fc.constantFrom<MessageKind>(
    'callback',
    'openid_ciba_callback',
    'powens_webhook',
  );
  const anyBody = fc.oneof(
    editedWire,
    fc.tuple(kindArbitrary, fc.oneof(fc.jsonValue(), nearlyMessage)),
  );

  it('any JSON is refused with MessageDecodeError or decoded to a message that round-trips', () => {
    const outcomes = { decoded: 0, refused: 0 };
    fc.assert(
      fc.property(anyBody, ([kind, json]) => {
        let message: Message;
        try {
          message = decodeMessage(kind, JSON.stringify(json) ?? 'null');
        } catch (error) {
          expect(error).toBeInstanceOf(MessageDecodeError);
          outcomes.refused++;
          return;
        }
        outcomes.decoded++;
        expect(message.kind).toBe(kind);
        const body = encodeMessage(message);
        expect(decodeMessage(kind, body)).toEqual(message);
        expect(encodeMessage(decodeMessage(kind, body))).toBe(body);
      }),
      { numRuns: NUM_RUNS * 3 },
    );
    // Both branches must have been exercised, or the property proved nothing.
    expect(outcomes.decoded).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });

  // The codec runs the schemas compiled by zod; the exported ones stay on zod's runtime parser.
  it('decodes any body as the runtime parser of the wire schemas does, naming the same field', () => {
    const runtimeWires = {
      callback: callbackMessageWire,
      openid_ciba_callback: openIDCIBACallbackMessageWire,
      powens_webhook: powensWebhookMessageWire,
    };
    fc.assert(
      fc.property(anyBody, ([kind, json]) => {
        const runtime = runtimeWires[kind].safeParse(json);
        const outcome = decodeOutcome(kind, JSON.stringify(json) ?? 'null');
        if (runtime.success) {
          expect(outcome).toEqual({ message: withoutFilledTimestamp(runtime.data, json) });
        } else {
          expect(outcome).toEqual({ field: describeIssue(runtime.error, json).field });
        }
      }),
      { numRuns: NUM_RUNS * 3 },
    );
  });

  // The shape schemas are internal, read from the source: under Bun, vitest's module runner reads
  // zod's `z` as undefined in a source module (the runtime matrix runs this file there too).
  it.skipIf(process.versions.bun !== undefined)(
    'refuses to encode what the runtime parser of the shapes refuses, naming the same field',
    async () => {
      const { messageShapes } = await import('../src/schemas');
      const outcomes = { encoded: 0, refused: 0 };
      fc.assert(
        fc.property(
          messageArbitrary,
          fc.option(anyValue, { nil: undefined }),
          fc.nat(),
          (message, value, pick) => {
            const edited: Record<string, unknown> = { ...message };
            const keys = Object.keys(edited).filter((key) => key !== 'kind');
            if (value !== undefined) edited[keys[pick % keys.length]!] = value;
            const runtime = messageShapes[message.kind].safeParse(edited);
            let field: string | null | undefined;
            try {
              encodeMessage(edited as unknown as Message);
              outcomes.encoded++;
            } catch (error) {
              expect(error).toBeInstanceOf(MessageValidationError);
              field = (error as MessageValidationError).field;
              outcomes.refused++;
            }
            expect(field).toBe(
              runtime.success ? undefined : describeIssue(runtime.error, edited).field,
            );
          },
        ),
        { numRuns: NUM_RUNS * 3 },
      );
      expect(outcomes.encoded).toBeGreaterThan(0);
      expect(outcomes.refused).toBeGreaterThan(0);
    },
  );

  it('a datetime that decodes is re-encoded to one that decodes to the same instant', () => {
    const anyDatetimeText = fc.oneof(
      datetimeText,
      fc.constantFrom(
        '0000-01-01T00:00:00',
        '9999-12-31T23:59:59.999-05:30',
        '0001-01-01T00:00+01',
      ),
    );
    fc.assert(
      fc.property(anyDatetimeText, (timestamp) => {
        const body = JSON.stringify({ timestamp, url: 'u', state: 's' });
        let message: Message;
        try {
          message = decodeMessage('callback', body);
        } catch (error) {
          expect(error).toBeInstanceOf(MessageDecodeError);
          return;
        }
        expect(decodeMessage('callback', encodeMessage(message))).toEqual(message);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('any Date is either encoded so that it decodes back, or refused when built', () => {
    const anyDate = fc.date({ noInvalidDate: true });
    fc.assert(
      fc.property(anyDate, (timestamp) => {
        const message: Message = { kind: 'callback', timestamp, url: 'u', state: 's' };
        let body: string;
        try {
          body = encodeMessage(message);
        } catch (error) {
          expect(error).toBeInstanceOf(MessageValidationError);
          expect((error as MessageValidationError).field).toBe('timestamp');
          return;
        }
        expect(decodeMessage('callback', body)).toEqual(message);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('a local time with an offset reads as the instant it names', () => {
    const offsetMinutes = fc.integer({ min: -(24 * 60 - 1), max: 24 * 60 - 1 });
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0002-01-01T00:00:00.000Z'),
          max: new Date('9998-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        offsetMinutes,
        fc.boolean(),
        (date, offset, withColon) => {
          const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 23);
          const magnitude = Math.abs(offset);
          const hours = String(Math.floor(magnitude / 60)).padStart(2, '0');
          const minutes = String(magnitude % 60).padStart(2, '0');
          const suffix = `${offset < 0 ? '-' : '+'}${hours}${withColon ? ':' : ''}${minutes}`;
          expect(parseDatetime(`${local}${suffix}`)?.getTime()).toBe(date.getTime());
          expect(parseDatetime(date.toISOString())?.getTime()).toBe(date.getTime());
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('reads what encoders write, digit by digit, as the general parser reads it', () => {
    // Fields of any two or four digits, in range or not (month 13, February 30, year 0),
    // and sub-millisecond digits that are not always zero: the digit-by-digit fast path
    // must agree with the general one, which reads the same text with a Z appended.
    const digits = (length: number) =>
      fc.integer({ min: 0, max: 10 ** length - 1 }).map((n) => String(n).padStart(length, '0'));
    const written = fc
      .tuple(
        digits(4),
        fc.oneof(digits(2), fc.constantFrom('01', '02', '12', '13')),
        fc.oneof(digits(2), fc.constantFrom('28', '29', '30', '31')),
        digits(2),
        digits(2),
        digits(2),
        digits(3),
        fc.oneof(fc.constant('000'), digits(3)),
      )
      .map(([y, mo, d, h, mi, s, ms, us]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}${us}`);
    fc.assert(
      fc.property(
        fc.oneof(
          written,
          instant.map((date) => `${date.toISOString().slice(0, 23)}000`),
        ),
        (text) => {
          expect(parseDatetime(text)?.getTime()).toBe(parseDatetime(`${text}Z`)?.getTime());
        },
      ),
      { numRuns: NUM_RUNS * 10 },
    );
  });
});

/** What decoding `body` gives: the message, or the field its error names. */
function decodeOutcome(
  kind: MessageKind,
  body: string,
): { message: Message } | { field: string | null } {
  try {
    return { message: withoutFilledTimestamp(decodeMessage(kind, body), JSON.parse(body)) };
  } catch (error) {
    expect(error).toBeInstanceOf(MessageDecodeError);
    return { field: (error as MessageDecodeError).field };
  }
}

/** A timestamp absent from the wire is filled with the time of decoding: not comparable between two decodings. */
function withoutFilledTimestamp(message: Message, json: unknown): Message {
  const wire = json as { timestamp?: unknown } | null;
  if (wire !== null && typeof wire === 'object' && wire.timestamp != null) return message;
  return { ...message, timestamp: new Date(0) };
}
