import { connect } from '@teal/amq-core';
import { handlerPeer, type PeerFactory } from './peer';
import { rawAmqp } from './raw/amqp';
import { rawJetStream, rawNats } from './raw/nats';
import { rawPostgres } from './raw/postgres';
import { rawRedis } from './raw/redis';

/** One broker as the benchmarks see it: the adapter and its raw-client baseline. */
export interface BenchTarget {
  name: string;
  /** The URL probed before running; `null` for the in-process broker. */
  url: string | null;
  adapter: PeerFactory;
  raw: PeerFactory | null;
}

const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const postgresUrl = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const viaConnect =
  (url: string, options: Record<string, unknown> = {}): PeerFactory =>
  async (exchangePrefix) =>
    handlerPeer(await connect({ url, exchangePrefix, ...options }));

/**
 * Every target. `otel`: with a deliver subscriber, core hands each delivery
 * to the callback asynchronously, and the memory broker, which cannot hold
 * a sender back, overflows the default backlog under 256 sends in flight
 * (the handler drops messages and the scenario never ends): there, the
 * backlog is made big enough.
 */
export function benchTargets({ otel }: { readonly otel: boolean }): readonly BenchTarget[] {
  const memory = viaConnect('memory://bench', otel ? { maxBacklog: 1_000_000 } : {});
  return [{ name: 'memory', url: null, adapter: memory, raw: null }, ...BROKER_TARGETS];
}

const BROKER_TARGETS: readonly BenchTarget[] = [
  { name: 'amqp', url: amqpUrl, adapter: viaConnect(amqpUrl), raw: rawAmqp(amqpUrl) },
  { name: 'redis', url: redisUrl, adapter: viaConnect(redisUrl), raw: rawRedis(redisUrl) },
  { name: 'nats', url: natsUrl, adapter: viaConnect(natsUrl), raw: rawNats(natsUrl) },
  {
    name: 'nats (durable)',
    url: natsUrl,
    adapter: viaConnect(natsUrl, { mode: 'jetstream' }),
    raw: rawJetStream(natsUrl),
  },
  {
    name: 'postgres',
    url: postgresUrl,
    adapter: viaConnect(postgresUrl),
    raw: rawPostgres(postgresUrl),
  },
];
