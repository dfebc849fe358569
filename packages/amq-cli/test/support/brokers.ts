/** The local brokers, found through the variables users set, with the defaults of a local install. */
export const BROKERS = [
  {
    name: 'RabbitMQ',
    url: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    version: /RabbitMQ \d+\.\d+\.\d+/,
  },
  {
    name: 'Redis',
    url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    version: /(Redis|Valkey) \d+\.\d+\.\d+/,
  },
  {
    name: 'NATS',
    url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    version: /NATS \d+\.\d+\.\d+/,
  },
  {
    name: 'PostgreSQL',
    url: process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    version: /PostgreSQL \d+\.\d+/,
  },
] as const;

/** The broker URL with other parts: a port nothing listens on, another password, database… */
export function urlWith(url: string, change: (parsed: URL) => void): string {
  const parsed = new URL(url);
  change(parsed);
  return parsed.href;
}

/** Parses the JSON lines a command printed. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
