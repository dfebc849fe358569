import type { AMQHandler } from '@teal/amq-core';
import { type Message, routingKeyOf } from '@teal/messages';

/**
 * One connection that binds keys, sends and receives: what every scenario
 * drives, for an adapter and for its raw-client baseline alike.
 */
export interface BenchPeer {
  /** Binds a key on the exchange of `kind` (callbacks by default). */
  bind(key: string, kind?: BenchKind): Promise<void>;
  /** Resolves once the broker has the message. */
  send(message: Message): Promise<void>;
  /** Called with the routing key of each message delivered. */
  onMessage: ((key: string) => void) | null;
  close(): Promise<void>;
  /** The TeaL handler behind an adapter's peer, for the scenarios of its own API. */
  readonly handler?: AMQHandler;
}

/** Makes a connected peer on an exchange prefix of its own. */
export type PeerFactory = (prefix: string) => Promise<BenchPeer>;

/** The kinds the scenarios send: OAuth2 callbacks and Powens webhooks. */
export type BenchKind = 'callback' | 'powens_webhook';

export const EXCHANGE_OF: Readonly<Record<BenchKind, string>> = {
  callback: 'callbacks',
  powens_webhook: 'powens_domain_webhooks',
};

/** The exchange kind and routing key a raw client sends a benchmark message with. */
export function route(message: Message): [BenchKind, string] {
  if (message.kind === 'powens_webhook') return ['powens_webhook', message.domain];
  if (message.kind === 'callback') return ['callback', message.state];
  throw new Error(`the benchmarks send no ${message.kind} messages`);
}

/** A peer on a TeaL handler: encode, route, decode and the callback included. */
export function handlerPeer(handler: AMQHandler): BenchPeer {
  const peer: BenchPeer = {
    bind: (key, kind = 'callback') => handler.bind(kind, key),
    send: (message) => handler.send(message),
    onMessage: null,
    close: () => handler.close(),
    handler,
  };
  handler.callback = (message) => peer.onMessage?.(routingKeyOf(message));
  return peer;
}

/**
 * The work a raw-client user does too: the message as JSON text on the way
 * out, parsed on the way in. Raw peers call these so that the ratio measures
 * what TeaL adds (validation, routing, ordering), not JSON itself.
 */
export const rawCodec = {
  encode: (message: Message): string => JSON.stringify(plainWire(message)),
  decodeKey: (body: string | Uint8Array): string => {
    const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
    const parsed = JSON.parse(text) as { state?: string; domain?: string };
    return parsed.state ?? parsed.domain ?? '';
  },
};

function plainWire(message: Message): Record<string, unknown> {
  switch (message.kind) {
    case 'callback':
      return { timestamp: message.timestamp.toISOString(), url: message.url, state: message.state };
    case 'powens_webhook':
      return {
        timestamp: message.timestamp.toISOString(),
        domain: message.domain,
        event: message.event,
        hmac_signature: null,
        user_token: message.userToken,
        payload: message.payload,
      };
    default:
      throw new Error(`the benchmarks send no ${message.kind} messages`);
  }
}
