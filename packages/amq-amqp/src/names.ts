import { type AMQExchangeName, isExchangeName } from '@teal/amq-core/adapter';

/** RabbitMQ refuses routing keys longer than this many UTF-8 bytes (a short string). */
export const MAX_ROUTING_KEY_BYTES = 255;

/**
 * How much of the exchange prefix goes into queue and connection names: a
 * queue name is at most 255 bytes, and the random handler id after it keeps
 * the name unique however the prefix was cut.
 */
const PREFIX_CHARACTERS = 48;

/** The prefix as queue and connection names show it: `-` when there is none. */
function prefixPart(exchangePrefix: string): string {
  return exchangePrefix === ''
    ? '-'
    : Array.from(exchangePrefix).slice(0, PREFIX_CHARACTERS).join('');
}

/** The handler's queue: `teal.<prefix>.<handler id>`. */
export function queueNameOf(exchangePrefix: string, handlerId: string): string {
  return `teal.${prefixPart(exchangePrefix)}.${handlerId}`;
}

/** The connection name RabbitMQ shows: `<application>/<prefix>/<handler id>`. */
export function connectionNameOf(
  application: string,
  exchangePrefix: string,
  handlerId: string,
): string {
  return `${application}/${prefixPart(exchangePrefix)}/${handlerId}`;
}

/** The TeaL exchange a broker exchange of this prefix is, if it is one. */
export function exchangeOfBroker(
  exchangePrefix: string,
  brokerExchange: string,
): AMQExchangeName | undefined {
  if (!brokerExchange.startsWith(exchangePrefix)) return undefined;
  const exchange = brokerExchange.slice(exchangePrefix.length);
  return isExchangeName(exchange) ? exchange : undefined;
}
