import { z } from 'zod';
import { formatAwareDatetime, formatDatetime, isWritableInstant, parseDatetime } from './datetime';
import { MessageDecodeError, MessageValidationError } from './errors';
import { describeIssue } from './issues';
import { messageShapes, messageWires } from './schemas';
import type { CallbackMessage, Message, MessageKind, MessageOfKind } from './types';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The schemas the codec runs, compiled by zod into parsers of their own
 * (`z.compile`): on zod's runtime parser, what an object schema with
 * transforms parsed outlived the young generation's collections (V8 copied
 * and promoted every 64 KiB payload decoded), and decoding a 64 KiB webhook
 * took 270 µs instead of 52. A schema zod cannot compile (or a zod without
 * `compile`, or a runtime that forbids `new Function`) stays on the runtime
 * parser, which answers every input the same; the compiled parser hands what
 * it refuses to the runtime one, whose issues name the field.
 */
const wires = compiledAll(messageWires);
const shapes = compiledAll(messageShapes);

function compiledAll<S extends Record<string, z.ZodType>>(schemas: S): S {
  const compile = (z as { compile?: <T extends z.ZodType>(schema: T) => T }).compile;
  if (compile === undefined) return schemas;
  const entries = Object.entries(schemas).map(([kind, schema]) => [kind, compile(schema)]);
  return Object.fromEntries(entries) as S;
}

/**
 * Decodes a body received on the exchange of `kind`. Unknown fields are
 * ignored; a datetime without an offset is UTC. Throws `MessageDecodeError`
 * naming the field and the reason (never its value).
 */
export function decodeMessage<K extends MessageKind>(
  kind: K,
  body: string | Uint8Array,
): MessageOfKind<K> {
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    try {
      text = utf8.decode(body);
    } catch (cause) {
      throw new MessageDecodeError(kind, null, 'is not valid UTF-8', { cause });
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's own message quotes the body, which may hold tokens.
    throw new MessageDecodeError(kind, null, 'is not valid JSON');
  }
  if (kind === 'callback') {
    const fast = fastCallback(json);
    if (fast !== null) return fast as MessageOfKind<K>;
  }
  const parsed = wires[kind].safeParse(json);
  if (!parsed.success) {
    const { field, reason } = describeIssue(parsed.error, json);
    throw new MessageDecodeError(kind, field, reason);
  }
  return parsed.data as MessageOfKind<K>;
}

/** Checks that a message has the shape of its kind; throws `MessageValidationError` otherwise. */
export function assertMessage(message: Message): void {
  const kind = (message as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(messageShapes, kind)) {
    throw new MessageValidationError(
      'callback',
      'kind',
      `must be one of ${Object.keys(messageShapes).join(', ')}`,
    );
  }
  const checked = shapes[kind as MessageKind].safeParse(message);
  if (!checked.success) {
    const { field, reason } = describeIssue(checked.error, message);
    throw new MessageValidationError(kind as MessageKind, field, reason);
  }
}

/**
 * Encodes a message as the compact JSON body the Python original reads:
 * snake_case keys, `timestamp` and `expires_at` in naive UTC with six
 * fraction digits (`2023-06-01T12:34:56.789000`, as `datetime.utcnow()` is
 * written), `signature_date` with its offset (`+00:00`), `null` for absent optionals.
 * Throws `MessageValidationError` for a message of the wrong shape.
 */
export function encodeMessage(message: Message): string {
  if (!isPlainCallback(message)) assertMessage(message);
  return JSON.stringify(toWire(message));
}

// Callback messages are the bulk of the traffic: their common, valid shape is
// checked by hand; anything else takes the zod path, which names what is wrong.
// The property and golden-vector tests hold both paths to the same results.

function fastCallback(json: unknown): CallbackMessage | null {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return null;
  const { timestamp, url, state } = json as Record<string, unknown>;
  if (typeof url !== 'string' || typeof state !== 'string' || typeof timestamp !== 'string')
    return null;
  const date = parseDatetime(timestamp);
  return date === null ? null : { kind: 'callback', timestamp: date, url, state };
}

function isPlainCallback(message: Message): boolean {
  return (
    message !== null &&
    typeof message === 'object' &&
    message.kind === 'callback' &&
    typeof message.url === 'string' &&
    typeof message.state === 'string' &&
    message.timestamp instanceof Date &&
    isWritableInstant(message.timestamp)
  );
}

function toWire(message: Message): Record<string, unknown> {
  switch (message.kind) {
    case 'callback':
      return {
        timestamp: formatDatetime(message.timestamp),
        url: message.url,
        state: message.state,
      };
    case 'openid_ciba_callback': {
      const { pushToken, pushError } = message;
      return {
        timestamp: formatDatetime(message.timestamp),
        request_id: message.requestId,
        access_token: message.accessToken,
        push_token: pushToken && {
          access_token: pushToken.accessToken,
          token_type: pushToken.tokenType,
          refresh_token: pushToken.refreshToken,
          expires_at: formatDatetime(pushToken.expiresAt),
          id_token: pushToken.idToken,
        },
        push_error: pushError && {
          error: pushError.error,
          error_description: pushError.errorDescription,
        },
      };
    }
    case 'powens_webhook': {
      const signature = message.hmacSignature;
      return {
        timestamp: formatDatetime(message.timestamp),
        domain: message.domain,
        event: message.event,
        hmac_signature: signature && {
          signature: signature.signature,
          payload_prefix: signature.payloadPrefix,
          signature_date: signature.signatureDate && formatAwareDatetime(signature.signatureDate),
        },
        user_token: message.userToken,
        payload: message.payload,
      };
    }
  }
}

/** The routing key a message is sent with: `state`, `requestId` or `domain`. */
export function routingKeyOf(message: Message): string {
  switch (message.kind) {
    case 'callback':
      return message.state;
    case 'openid_ciba_callback':
      return message.requestId;
    case 'powens_webhook':
      return message.domain;
  }
}
