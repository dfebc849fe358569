import { encodeMessage, type Message, type MessageKind, parseDatetime } from '@teal/messages';

const MAX_KEY_LENGTH = 1024;
// pydantic 1.10's AnyUrl refuses longer URLs.
const MAX_URL_LENGTH = 2 ** 16;
// pydantic 1.10 reads a number above this as milliseconds (and divides until it is not).
const MS_WATERSHED = 2e10;
const UNIX_NUMBER = /^[+-]?\d{1,20}(?:\.\d{1,20})?$/;

/** One key a socket waits on: a callback state, a CIBA request id or a Powens domain. */
export interface Registration {
  readonly kind: MessageKind;
  /** The routing key: for Powens, the full domain as messages carry it (`example.biapi.pro`). */
  readonly key: string;
}

/** A `create` request: a callback state to store for the listener. */
export interface CallbackCreation {
  readonly state: string;
  /** Where the listener redirects (302) once the callback is sent; `null`: no redirection. */
  readonly finalRedirectUrl: string | null;
  /** Whether the listener sends the full URL, fragment included, even when the query has the state. */
  readonly withFragment: boolean;
  readonly expiresAt: Date;
}

/** A client frame as the Python dispatcher's models read it, plus this service's `unregister_from`. */
export interface ClientFrame {
  readonly create: CallbackCreation | null;
  readonly registerTo: Registration | null;
  readonly unregisterFrom: Registration | null;
}

export type ClientAction = 'register_to' | 'unregister_from';

/** A member that does not parse; the Python models refuse the whole frame then. */
class FrameError extends Error {}

/**
 * Reads a client frame as the Python dispatcher's pydantic models do: one
 * object with optional `create` and `register_to` (explicit `null` is absent),
 * unknown members ignored at every level, and the whole frame refused when
 * one part does not parse. Never throws: returns why a frame was refused.
 */
export function parseClientFrame(data: string): ClientFrame | { readonly error: string } {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { error: `the message is not JSON: ${USAGE}` };
  }
  if (!isObject(json)) return { error: `the message is not a JSON object: ${USAGE}` };
  try {
    return {
      create: optional(json, 'create', creationOf),
      registerTo: optional(json, 'register_to', (target) => registrationOf(target, 'register_to')),
      unregisterFrom: optional(json, 'unregister_from', (target) =>
        registrationOf(target, 'unregister_from'),
      ),
    };
  } catch (error) {
    if (error instanceof FrameError) return { error: error.message };
    throw error;
  }
}

const USAGE =
  'send {"create": {"type": "callback", "state": …, "expires_at": …}, "register_to": ' +
  '{"type": "callback", "state": …} | {"type": "openid_ciba_callback", "request_id": …} | ' +
  '{"type": "powens_domain", "powens_domain": …}}';

function optional<T>(
  json: Record<string, unknown>,
  member: string,
  read: (value: Record<string, unknown>) => T,
): T | null {
  const value = json[member];
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new FrameError(`${member} must be an object: ${USAGE}`);
  return read(value);
}

function creationOf(target: Record<string, unknown>): CallbackCreation {
  if (target.type !== 'callback') throw new FrameError('create: type must be callback');
  const state = keyOf(target, 'state', 'create');
  // Absent is false; an explicit null is refused, as pydantic refuses None for a bool.
  const withFragment = target.with_fragment === undefined ? false : target.with_fragment;
  if (typeof withFragment !== 'boolean') {
    throw new FrameError('create: with_fragment must be true or false');
  }
  return {
    state,
    finalRedirectUrl: redirectUrlOf(target.final_redirect_url),
    withFragment,
    expiresAt: expiryOf(target.expires_at),
  };
}

function redirectUrlOf(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const text = typeof value === 'string' ? value.trim() : '';
  let url: URL | null = null;
  if (text !== '' && text.length <= MAX_URL_LENGTH) {
    try {
      url = new URL(text);
    } catch {}
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') {
    throw new FrameError('create: final_redirect_url must be an absolute http: or https: URL');
  }
  return text;
}

/** An ISO 8601 datetime (naive is UTC) or a Unix time, as pydantic 1.10 reads a datetime. */
function expiryOf(value: unknown): Date {
  let date: Date | null = null;
  if (typeof value === 'string') {
    date = UNIX_NUMBER.test(value) ? unixTimeOf(Number(value)) : parseDatetime(value);
  } else if (typeof value === 'number') {
    date = unixTimeOf(value);
  }
  if (date === null) {
    throw new FrameError('create: expires_at must be an ISO 8601 datetime (naive is UTC)');
  }
  return date;
}

function unixTimeOf(seconds: number): Date | null {
  let value = seconds;
  while (Math.abs(value) > MS_WATERSHED) value /= 1000;
  const date = new Date(value * 1000);
  return Number.isFinite(value) && !Number.isNaN(date.getTime()) ? date : null;
}

function registrationOf(target: Record<string, unknown>, member: ClientAction): Registration {
  switch (target.type) {
    case 'callback':
      return { kind: 'callback', key: keyOf(target, 'state', member) };
    case 'openid_ciba_callback':
      return { kind: 'openid_ciba_callback', key: keyOf(target, 'request_id', member) };
    case 'powens_domain':
      return { kind: 'powens_webhook', key: keyOf(target, 'powens_domain', member) };
    default:
      throw new FrameError(
        `${member}: type must be callback, openid_ciba_callback or powens_domain`,
      );
  }
}

function keyOf(target: Record<string, unknown>, field: string, member: string): string {
  const key = target[field];
  if (typeof key !== 'string' || key === '' || key.length > MAX_KEY_LENGTH) {
    throw new FrameError(
      `${member}: ${field} must be a string of 1 to ${MAX_KEY_LENGTH} characters`,
    );
  }
  return key;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The earliest and latest expiry a `create` may ask for, as the Python dispatcher enforces them. */
export const MIN_STATE_LIFETIME_MS = 10_000;
export const MAX_STATE_LIFETIME_MS = 7 * 24 * 3600_000;

/** Why a `create` is refused, in the Python dispatcher's words; `null` when its expiry is fine. */
export function creationFailureOf(creation: CallbackCreation, now: Date): string | null {
  const lifetime = creation.expiresAt.getTime() - now.getTime();
  if (lifetime < MIN_STATE_LIFETIME_MS) return 'Callback expiration date was too early.';
  if (lifetime > MAX_STATE_LIFETIME_MS) {
    return 'Callback expiration was too late; a maximum of 7 days is enforced.';
  }
  return null;
}

/** A message as the Python dispatcher sends it: `type`, then its wire fields in order. */
export function messageFrame(message: Message): string {
  return `{"type":${JSON.stringify(message.kind)},${encodeMessage(message).slice(1)}`;
}

/** Tells the client its `create` was refused; the rest of that frame was skipped. */
export function creationFailureFrame(state: string, detail: string): string {
  return JSON.stringify({ type: 'callback_creation_failure', state, detail });
}

/** This service's addition on `/ws`: messages for a key will now reach the socket (or no longer will). */
export function acknowledgementFrame(action: ClientAction, registration: Registration): string {
  const type = action === 'register_to' ? 'registered' : 'unregistered';
  return JSON.stringify({ type, [action]: targetOf(registration) });
}

/** A registration as the client wrote it. */
function targetOf({ kind, key }: Registration): Record<string, string> {
  switch (kind) {
    case 'callback':
      return { type: 'callback', state: key };
    case 'openid_ciba_callback':
      return { type: 'openid_ciba_callback', request_id: key };
    case 'powens_webhook':
      return { type: 'powens_domain', powens_domain: key };
  }
}

/** This service's addition on `/ws`: why a frame was refused; the socket stays open. */
export function errorFrame(error: string): string {
  return JSON.stringify({ type: 'error', error });
}
