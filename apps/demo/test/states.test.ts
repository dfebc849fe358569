import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStateStore } from '../src/states/index';
import { createMemoryStateStore } from '../src/states/memory';
import { createPostgresStateStore } from '../src/states/postgres';
import { createRedisStateStore } from '../src/states/redis';
import { type StateStore, StateStoreError } from '../src/states/store';
import { BROKER_URLS } from './helpers/brokers';
import { describeIfAvailable } from './helpers/require';

const { redis: REDIS_URL, postgres: POSTGRES_URL } = BROKER_URLS;

const token = () => randomBytes(6).toString('hex');
const inMs = (ms: number) => new Date(Date.now() + ms);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function redisUnavailable(): Promise<string | null> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch {
    return `Redis does not answer at REDIS_URL (${REDIS_URL})`;
  } finally {
    redis.disconnect();
  }
}

async function postgresUnavailable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return null;
  } catch {
    return 'PostgreSQL does not answer at POSTGRES_URL';
  } finally {
    await client.end().catch(() => {});
  }
}

interface StoreTarget {
  readonly name: string;
  readonly unavailable: string | null;
  /** A fresh store on its own keys (a random key prefix or table). */
  create(options?: { sweepIntervalMs?: number }): StateStore;
  /** How many states the server still holds for the store, expired or not (`null`: memory). */
  held(store: StateStore): Promise<number | null>;
}

const redisPrefixes = new Map<StateStore, string>();
const postgresTables = new Map<StateStore, string>();
const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
admin.on('error', () => {});
const redisAdmin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
redisAdmin.on('error', () => {});

afterAll(async () => {
  for (const table of postgresTables.values()) {
    await admin.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
  }
  await admin.end();
  redisAdmin.disconnect();
});

const targets: StoreTarget[] = [
  {
    name: 'memory',
    unavailable: null,
    create: (options) => createMemoryStateStore(options),
    held: async () => null,
  },
  {
    name: 'redis',
    unavailable: await redisUnavailable(),
    create() {
      const keyPrefix = `test:states:${token()}:`;
      const store = createRedisStateStore({ url: REDIS_URL, keyPrefix });
      redisPrefixes.set(store, keyPrefix);
      return store;
    },
    async held(store) {
      return (await redisAdmin.keys(`${redisPrefixes.get(store)}*`)).length;
    },
  },
  {
    name: 'postgres',
    unavailable: await postgresUnavailable(),
    create(options) {
      const table = `test_states_${token()}`;
      const store = createPostgresStateStore({ url: POSTGRES_URL, table, ...options });
      postgresTables.set(store, table);
      return store;
    },
    async held(store) {
      const table = postgresTables.get(store)!;
      return Number((await admin.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    },
  },
];

for (const target of targets) {
  describeIfAvailable(`the ${target.name} state store`, target.unavailable, () => {
    const stores: StateStore[] = [];
    const open = (options?: { sweepIntervalMs?: number }) => {
      const store = target.create(options);
      stores.push(store);
      return store;
    };
    afterAll(async () => {
      for (const store of stores) await store.close();
    });

    it('stores, replaces and reads states; unknown ones read as null', async () => {
      const store = open();
      await store.ping();
      const value = {
        finalRedirectUrl: 'https://app.example/done?x=1',
        withFragment: true,
        expiresAt: inMs(60_000),
      };
      await store.put('état/½ a.b', value);
      expect(await store.get('état/½ a.b')).toEqual(value);
      const replaced = { finalRedirectUrl: null, withFragment: false, expiresAt: inMs(120_000) };
      await store.put('état/½ a.b', replaced);
      expect(await store.get('état/½ a.b')).toEqual(replaced);
      expect(await store.get('unknown')).toBeNull();
    });

    it('shares states between two stores on the same keys', async () => {
      if (target.name === 'memory') return;
      const first = open();
      const second =
        target.name === 'redis'
          ? createRedisStateStore({ url: REDIS_URL, keyPrefix: redisPrefixes.get(first)! })
          : createPostgresStateStore({ url: POSTGRES_URL, table: postgresTables.get(first)! });
      stores.push(second);
      const value = { finalRedirectUrl: null, withFragment: false, expiresAt: inMs(60_000) };
      await first.put('shared', value);
      expect(await second.get('shared')).toEqual(value);
    });

    it('forgets an expired state at once and removes it by itself', async () => {
      const store = open({ sweepIntervalMs: 200 });
      await store.put('short', {
        finalRedirectUrl: null,
        withFragment: false,
        expiresAt: inMs(1_000),
      });
      expect(await store.get('short')).not.toBeNull();
      expect(await target.held(store)).not.toBe(0);
      await sleep(1_200);
      expect(await store.get('short')).toBeNull();
      // Removed by the store (TTL or sweep), not only hidden: nothing is left on the server.
      const deadline = Date.now() + 10_000;
      for (let held = await target.held(store); held !== null && held > 0; ) {
        expect(Date.now(), `${held} state(s) still held 10 s after expiry`).toBeLessThan(deadline);
        await sleep(100);
        held = await target.held(store);
      }
    });

    it('closes idempotently, and refuses work after', async () => {
      const store = target.create();
      await store.close();
      await store.close();
      if (target.name !== 'memory') {
        await expect(store.get('x')).rejects.toBeInstanceOf(StateStoreError);
      }
    });
  });
}

describe('a store whose server does not answer', () => {
  it.each([
    ['redis', 'redis://127.0.0.1:1'],
    ['postgres', 'postgres://postgres@127.0.0.1:1/test'],
  ])('%s: ping, put and get reject with StateStoreError', async (_name, url) => {
    const store = await openStateStore(url);
    try {
      await expect(store.ping()).rejects.toBeInstanceOf(StateStoreError);
      await expect(
        store.put('s', { finalRedirectUrl: null, withFragment: false, expiresAt: inMs(60_000) }),
      ).rejects.toBeInstanceOf(StateStoreError);
      await expect(store.get('s')).rejects.toBeInstanceOf(StateStoreError);
    } finally {
      await store.close();
    }
  });
});

describe('the memory store', () => {
  it('caps the states it holds, sweeping expired ones before refusing', async () => {
    let now = Date.now();
    const store = createMemoryStateStore({ maxStates: 2, now: () => now });
    const value = (ms: number) => ({
      finalRedirectUrl: null,
      withFragment: false,
      expiresAt: new Date(now + ms),
    });
    await store.put('a', value(1_000));
    await store.put('b', value(60_000));
    await expect(store.put('c', value(60_000))).rejects.toThrow(/limit/);
    await store.put('b', value(60_000));
    now += 2_000;
    await store.put('c', value(60_000));
    expect(await store.get('c')).not.toBeNull();
    await store.close();
  });
});
