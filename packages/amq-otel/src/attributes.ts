/**
 * Attribute names of the OpenTelemetry messaging semantic conventions. Copied
 * rather than imported: they live in the incubating entry of
 * `@opentelemetry/semantic-conventions`, which may rename them in any minor.
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size';
export const ATTR_MESSAGING_RABBITMQ_ROUTING_KEY = 'messaging.rabbitmq.destination.routing_key';
export const ATTR_ERROR_TYPE = 'error.type';

/** TeaL's own attributes, for what the conventions have no name for. */
export const ATTR_TEAL_ADAPTER = 'teal.amq.adapter';
export const ATTR_TEAL_HANDLER_ID = 'teal.amq.handler.id';
export const ATTR_TEAL_ROUTING_KEY = 'teal.amq.routing_key';
export const ATTR_TEAL_DROP_REASON = 'teal.amq.drop.reason';

/**
 * `messaging.system` of each adapter: the conventions' well-known value where
 * there is one (`rabbitmq`), the broker's own name otherwise. A third-party
 * adapter is named by its package.
 */
const SYSTEMS: Readonly<Record<string, string>> = {
  '@teal/amq-amqp': 'rabbitmq',
  '@teal/amq-redis-streams': 'redis',
  '@teal/amq-nats': 'nats',
  '@teal/amq-postgres': 'postgresql',
  '@teal/amq-core (memory)': 'teal_memory',
};

export function messagingSystemOf(adapter: string): string {
  return SYSTEMS[adapter] ?? adapter;
}

/**
 * Where the routing key goes when recording it was asked for: the RabbitMQ
 * convention's attribute on RabbitMQ, TeaL's own elsewhere.
 */
export function routingKeyAttribute(adapter: string): string {
  return messagingSystemOf(adapter) === 'rabbitmq'
    ? ATTR_MESSAGING_RABBITMQ_ROUTING_KEY
    : ATTR_TEAL_ROUTING_KEY;
}

/**
 * `error.type`: the error's class name (`AMQSendError`, `AMQTimeoutError`),
 * low in cardinality as the conventions ask; `_OTHER` for a thrown non-error.
 */
export function errorTypeOf(error: unknown): string {
  return error instanceof Error && error.name !== '' ? error.name : '_OTHER';
}
