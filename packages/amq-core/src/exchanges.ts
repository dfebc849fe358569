import type { Message, MessageKind } from '@teal/messages';

/** The exchanges TeaL messages travel on, named as the Python original names them. */
export const AMQExchangeName = Object.freeze({
  /** `CallbackMessage`s, bound by callback state. */
  CALLBACKS: 'callbacks',
  /** `OpenIDCIBACallbackMessage`s, bound by authentication request identifier. */
  OPENID_CIBA_CALLBACKS: 'openid_ciba_callbacks',
  /** `PowensWebhookMessage`s, bound by Powens domain. */
  POWENS_DOMAIN_WEBHOOKS: 'powens_domain_webhooks',
} as const);

export type AMQExchangeName = (typeof AMQExchangeName)[keyof typeof AMQExchangeName];

/** Every exchange, in a stable order. */
export const EXCHANGE_NAMES: readonly AMQExchangeName[] = Object.freeze(
  Object.values(AMQExchangeName),
);

const EXCHANGE_OF_KIND: Readonly<Record<MessageKind, AMQExchangeName>> = {
  callback: 'callbacks',
  openid_ciba_callback: 'openid_ciba_callbacks',
  powens_webhook: 'powens_domain_webhooks',
};

const KIND_OF_EXCHANGE: Readonly<Record<AMQExchangeName, MessageKind>> = {
  callbacks: 'callback',
  openid_ciba_callbacks: 'openid_ciba_callback',
  powens_domain_webhooks: 'powens_webhook',
};

/** The exchange a message of this kind is sent on. */
export function exchangeOfKind(kind: MessageKind): AMQExchangeName {
  return EXCHANGE_OF_KIND[kind];
}

/** The message kind an exchange carries. */
export function kindOfExchange(exchange: AMQExchangeName): MessageKind {
  return KIND_OF_EXCHANGE[exchange];
}

/** The exchange a message is sent on. */
export function exchangeOf(message: Message): AMQExchangeName {
  return EXCHANGE_OF_KIND[message.kind];
}

/** Whether a string names one of the TeaL exchanges. */
export function isExchangeName(name: string): name is AMQExchangeName {
  return Object.hasOwn(KIND_OF_EXCHANGE, name);
}
