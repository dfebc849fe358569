/**
 * The brokers the demo's tests and load test run on: the same variables the
 * adapters' own tests read, with a local install's defaults. `AMQP_URL` is
 * taken only when it names RabbitMQ: the demo reads that variable for any
 * broker, and a shell may have it set to another.
 */
export const BROKER_URLS = {
  amqp: process.env.AMQP_URL?.startsWith('amqp')
    ? process.env.AMQP_URL
    : 'amqp://guest:guest@127.0.0.1:5672',
  redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  nats: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  postgres: process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
} as const;
