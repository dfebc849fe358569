import { createHash } from 'node:crypto';
import pg from 'pg';
import { type BenchPeer, EXCHANGE_OF, type PeerFactory, rawCodec, route } from '../peer';

const SCHEMA = 'teal_bench_raw';

/**
 * node-postgres alone, as a user would write it: one connection for sends
 * (an INSERT that notifies), one that LISTENs and reads the bound keys after
 * the last id it saw. One sending connection, because with more, ids commit
 * out of order and the reader skips some for good (the gap the adapter closes
 * with its writer lock): with a pool of 8 the throughput run never finished.
 */
export function rawPostgres(url: string): PeerFactory {
  return async (prefix) => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    await reader.query(
      `CREATE SCHEMA IF NOT EXISTS ${SCHEMA};
       CREATE TABLE IF NOT EXISTS ${SCHEMA}.messages
         (id bigserial PRIMARY KEY, prefix text, exchange text, key text, body bytea);
       CREATE INDEX IF NOT EXISTS by_key ON ${SCHEMA}.messages (prefix, key, id)`,
    );
    // Every peer of a prefix listens and notifies on the prefix's channel.
    const channel = `raw_${createHash('sha256').update(prefix).digest('hex').slice(0, 32)}`;
    const bound = new Set<string>();
    let lastId = '0';
    let isOpen = true;
    let isReading = false;
    let isWokenAgain = false;

    const read = async () => {
      if (isReading) {
        isWokenAgain = true;
        return;
      }
      isReading = true;
      try {
        do {
          isWokenAgain = false;
          for (;;) {
            const { rows } = await reader.query<{ id: string; key: string; body: Buffer }>(
              `SELECT id, exchange || ' ' || key AS key, body FROM ${SCHEMA}.messages
               WHERE prefix = $1 AND exchange || ' ' || key = ANY($2) AND id > $3
               ORDER BY id LIMIT 1000`,
              [prefix, [...bound], lastId],
            );
            for (const row of rows) {
              lastId = row.id;
              peer.onMessage?.(rawCodec.decodeKey(row.body));
            }
            if (rows.length < 1_000 || !isOpen) break;
          }
        } while (isWokenAgain && isOpen);
      } finally {
        isReading = false;
      }
    };
    reader.on('notification', () => void read().catch(() => {}));
    await reader.query(`LISTEN ${channel}`);

    const peer: BenchPeer = {
      onMessage: null,
      bind: async (key, kind = 'callback') => {
        if (bound.size === 0) {
          const { rows } = await pool.query<{ id: string | null }>(
            `SELECT max(id) AS id FROM ${SCHEMA}.messages`,
          );
          lastId = rows[0]?.id ?? '0';
        }
        bound.add(`${EXCHANGE_OF[kind]} ${key}`);
      },
      send: async (message) => {
        const [kind, key] = route(message);
        await pool.query(
          `WITH sent AS (INSERT INTO ${SCHEMA}.messages (prefix, exchange, key, body)
             VALUES ($1, $2, $3, $4) RETURNING id)
           SELECT pg_notify($5, '') FROM sent`,
          [prefix, EXCHANGE_OF[kind], key, Buffer.from(rawCodec.encode(message)), channel],
        );
      },
      close: async () => {
        isOpen = false;
        await reader.query(`DELETE FROM ${SCHEMA}.messages WHERE prefix = $1`, [prefix]);
        await reader.end();
        await pool.end();
      },
    };
    return peer;
  };
}
