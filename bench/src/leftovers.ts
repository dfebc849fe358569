import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { EXCHANGE_NAMES } from '@teal/amq-core/adapter';
import { DEFAULT_SUBJECT_ROOT, encodeToken } from '@teal/amq-nats';
import { POSTGRES_DEFAULTS } from '@teal/amq-postgres';
import amqplib from 'amqplib';
import pg from 'pg';
import type { PeerFactory } from './peer';

/**
 * The prefixes given to one broker's peers, by whichever peer, and what
 * removes what they left on the broker once closed, which the bench's random
 * prefixes (one per round) must not leave: cleaned up after each target.
 * Redis keys expire by themselves, a short while after their last write.
 */
export interface PrefixLog {
  /** `factory`, remembering each prefix it is given. */
  track(factory: PeerFactory): PeerFactory;
  /** Remembers a prefix that reached the broker otherwise (the Python peer's). */
  remember(prefix: string): void;
  /** Removes what every prefix remembered so far left behind. */
  cleanUp(): Promise<void>;
}

function prefixLog(remove: (prefixes: readonly string[]) => Promise<void>): PrefixLog {
  const prefixes = new Set<string>();
  return {
    track: (factory) => (prefix) => {
      prefixes.add(prefix);
      return factory(prefix);
    },
    remember: (prefix) => {
      prefixes.add(prefix);
    },
    async cleanUp() {
      if (prefixes.size === 0) return;
      const removed = [...prefixes];
      await remove(removed);
      for (const prefix of removed) prefixes.delete(prefix);
    },
  };
}

/**
 * RabbitMQ keeps every exchange a handler declares (not auto-delete, as the
 * Python original declares them), once its handlers are gone: the adapter,
 * the raw client and the Python peer each declare their prefix's exchanges,
 * and a day of runs had left 653 of them on the server. Deleting an exchange
 * that is not there is no error.
 */
export function removingExchanges(url: string): PrefixLog {
  return prefixLog(async (prefixes) => {
    const connection = await amqplib.connect(url);
    try {
      const channel = await connection.createChannel();
      for (const prefix of prefixes) {
        for (const name of EXCHANGE_NAMES) await channel.deleteExchange(prefix + name);
      }
    } finally {
      await connection.close();
    }
  });
}

/**
 * A JetStream stream per prefix outlives its handlers by design and reserves
 * its `max_bytes` (256 MiB by default) of the server's storage: the few
 * hundred prefixes of a `pnpm bench:diagnostics` run left behind filled this
 * machine's reservation, and the server then refused every new stream.
 * `seeds`: `host:port` of the servers.
 */
export function removingStreams(seeds: readonly string[]): PrefixLog {
  return prefixLog(async (prefixes) => {
    const nc = await connect({ servers: [...seeds] });
    try {
      const jsm = await jetstreamManager(nc);
      for (const prefix of prefixes) {
        // The stream that captures the prefix's subjects, whatever its name.
        const subject = `${DEFAULT_SUBJECT_ROOT}.${encodeToken(prefix)}.any`;
        const name = await jsm.streams.find(subject).catch(() => null);
        if (name !== null) await jsm.streams.delete(name);
      }
    } finally {
      await nc.close();
    }
  });
}

/**
 * PostgreSQL rows expire with `retentionMs`, but are swept only while some
 * handler runs, 50,000 a second at most and the oldest first, whoever's they
 * are: the five million rows of one session's benchmark runs held back the
 * retention of every other prefix on the server for minutes.
 */
export function removingRows(url: string): PrefixLog {
  return prefixLog(async (prefixes) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        `DELETE FROM ${POSTGRES_DEFAULTS.schema}.messages WHERE prefix = ANY($1::text[])`,
        [prefixes],
      );
    } finally {
      await client.end();
    }
  });
}
