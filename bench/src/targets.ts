import { type AMQHandler, connect } from '@teal/amq-core';
import { probeBroker } from '@teal/amq-core/testing';
import { seedsOf } from './clusters';
import type { CurveLimits } from './curves';
import { removingExchanges, removingRows, removingStreams } from './leftovers';
import { handlerPeer, type PeerFactory } from './peer';
import { versusPython } from './python';
import { rawAmqp } from './raw/amqp';
import { rawJetStream, rawNats } from './raw/nats';
import { rawPostgres } from './raw/postgres';
import { rawRedis } from './raw/redis';
import type { Scenario } from './scenarios';

/** One broker as the benchmarks see it: the adapter and its raw-client baseline. */
export interface BenchTarget {
  name: string;
  /** Why it cannot be measured now (no broker answers), or `null`. */
  unavailable(): Promise<string | null>;
  adapter: PeerFactory;
  raw: PeerFactory | null;
  /** Scenarios of this target alone (the Python original, against RabbitMQ). */
  extra?: readonly Scenario[];
  /** What bounds its cost curves on a shared server. */
  limits?: CurveLimits;
  /** Removes what the adapter's handlers leave on the broker and nothing expires; run after the target. */
  cleanUp?(): Promise<void>;
}

const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const postgresUrl = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** What makes a handler: core's `connect()`, or another tree's (`pnpm bench:diagnostics`). */
export type Connect = (options: { url: string; exchangePrefix: string }) => Promise<AMQHandler>;

const probe = (url: string) => () => probeBroker(url);

/**
 * Every target. `otel`: with a deliver subscriber, core hands each delivery
 * to the callback asynchronously, and the memory broker, which cannot hold
 * a sender back, overflows the default backlog under 256 sends in flight
 * (the handler drops messages and the scenario never ends): there, the
 * backlog is made big enough. `via`: what connects the adapters' handlers.
 */
export function benchTargets({
  otel,
  via = connect as Connect,
}: {
  readonly otel: boolean;
  readonly via?: Connect;
}): readonly BenchTarget[] {
  const viaConnect =
    (url: string, options: Record<string, unknown> = {}): PeerFactory =>
    async (exchangePrefix) =>
      handlerPeer(await via({ url, exchangePrefix, ...options }));
  const memory = viaConnect('memory://bench', otel ? { maxBacklog: 1_000_000 } : {});
  const postgres = removingRows(postgresUrl);
  const durableNats = removingStreams(seedsOf(natsUrl));
  const amqp = removingExchanges(amqpUrl);
  const always = async () => null;
  return [
    { name: 'memory', unavailable: always, adapter: memory, raw: null },
    {
      name: 'amqp',
      unavailable: probe(amqpUrl),
      adapter: amqp.track(viaConnect(amqpUrl)),
      raw: amqp.track(rawAmqp(amqpUrl)),
      extra: [versusPython(amqpUrl, amqp.remember)],
      cleanUp: amqp.cleanUp,
    },
    {
      name: 'redis',
      unavailable: probe(redisUrl),
      adapter: viaConnect(redisUrl),
      raw: rawRedis(redisUrl),
    },
    {
      name: 'nats',
      unavailable: probe(natsUrl),
      adapter: viaConnect(natsUrl),
      raw: rawNats(natsUrl),
    },
    {
      name: 'nats (durable)',
      unavailable: probe(natsUrl),
      adapter: durableNats.track(viaConnect(natsUrl, { mode: 'jetstream' })),
      raw: rawJetStream(natsUrl),
      cleanUp: durableNats.cleanUp,
    },
    {
      name: 'postgres',
      unavailable: probe(postgresUrl),
      adapter: postgres.track(viaConnect(postgresUrl)),
      raw: rawPostgres(postgresUrl),
      cleanUp: postgres.cleanUp,
      limits: {
        maxHandlers: {
          count: 40,
          reason:
            'at most 40 handlers: each holds two connections, and PostgreSQL allows 100 by default',
        },
      },
    },
  ];
}
