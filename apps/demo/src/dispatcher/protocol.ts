import { encodeMessage, type Message, type MessageKind } from '@teal/messages';
import { POWENS_DOMAIN_SUFFIX } from '../powens-domain';

const MAX_KEY_LENGTH = 1024;

/** One key a socket waits on: a callback state, a CIBA request id or a Powens domain. */
export interface Registration {
  readonly kind: MessageKind;
  /** The routing key: for Powens, the full domain (`example.biapi.pro`). */
  readonly key: string;
}

export type ClientAction = 'register_to' | 'unregister_from';

/** What a client asked for, or why its message was refused. */
export type ClientRequest =
  | { readonly action: ClientAction; readonly registration: Registration }
  | { readonly error: string };

const USAGE =
  'send {"register_to": {"type": "callback", "state": …}}, ' +
  '{"register_to": {"type": "openid_ciba_callback", "request_id": …}} or ' +
  '{"register_to": {"type": "powens_domain", "powens_domain": …}} (unregister_from takes the same)';

/** Reads a client frame; never throws. */
export function parseClientMessage(data: string): ClientRequest {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { error: `the message is not JSON: ${USAGE}` };
  }
  if (!isObject(json)) return { error: `the message is not a JSON object: ${USAGE}` };
  const actions = Object.keys(json);
  const action = actions[0];
  if (actions.length !== 1 || (action !== 'register_to' && action !== 'unregister_from')) {
    return { error: `unknown message: ${USAGE}` };
  }
  const target = json[action];
  if (!isObject(target)) return { error: `${action} must be an object: ${USAGE}` };
  const registration = registrationOf(target);
  if ('error' in registration) return { error: `${action}: ${registration.error}` };
  return { action, registration };
}

function registrationOf(target: Record<string, unknown>): Registration | { error: string } {
  switch (target.type) {
    case 'callback':
      return keyOf(target, 'state', 'callback');
    case 'openid_ciba_callback':
      return keyOf(target, 'request_id', 'openid_ciba_callback');
    case 'powens_domain': {
      const found = keyOf(target, 'powens_domain', 'powens_webhook');
      if ('error' in found) return found;
      if (found.key.endsWith(POWENS_DOMAIN_SUFFIX)) {
        return { error: `powens_domain is the domain without ${POWENS_DOMAIN_SUFFIX}` };
      }
      return { kind: 'powens_webhook', key: `${found.key}${POWENS_DOMAIN_SUFFIX}` };
    }
    default:
      return { error: 'type must be callback, openid_ciba_callback or powens_domain' };
  }
}

function keyOf(
  target: Record<string, unknown>,
  field: string,
  kind: MessageKind,
): Registration | { error: string } {
  const key = target[field];
  if (typeof key !== 'string' || key === '' || key.length > MAX_KEY_LENGTH) {
    return { error: `${field} must be a string of 1 to ${MAX_KEY_LENGTH} characters` };
  }
  return { kind, key };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A message as the Python dispatcher sent it: its wire fields, snake_case, plus `type`. */
export function messageFrame(message: Message): string {
  return JSON.stringify({ type: message.kind, ...JSON.parse(encodeMessage(message)) });
}

/** Confirms that messages for a key will now reach the socket (or no longer will). */
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
      return { type: 'powens_domain', powens_domain: key.slice(0, -POWENS_DOMAIN_SUFFIX.length) };
  }
}

/** Tells the client why its message was refused; the socket stays open. */
export function errorFrame(error: string): string {
  return JSON.stringify({ type: 'error', error });
}
