import { EXCHANGE_NAMES } from '@teal/amq-core';
import { describeHandlerContract, describeWithBroker, transportOf } from '@teal/amq-core/testing';
import { Cluster } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { connect } from '../src/index';
import type { RedisStreamsTransport } from '../src/transport';
import { redisCapabilities } from './support/broker';
import { PrivateCluster } from './support/cluster';
import { expectExactlyOnceAcrossKills } from './support/kill-scenario';

// A private three-master cluster on loopback ports, for this file only.
const cluster = await PrivateCluster.tryStart();
const unavailable = typeof cluster === 'string' ? cluster : null;
const url = typeof cluster === 'string' ? '' : cluster.url;
const nodeUrls = typeof cluster === 'string' ? [] : cluster.nodeUrls;
afterAll(async () => {
  if (typeof cluster !== 'string') await cluster.stop();
});

// No `url`: a fault proxy cannot stand in front of a cluster, whose nodes announce their own addresses.
describeHandlerContract({
  name: 'redis-streams (cluster)',
  unavailable,
  createHandler: (options) => connect({ url, ...options }),
  capabilities: redisCapabilities(nodeUrls, true),
});

describeWithBroker('redis-streams on a cluster', unavailable, () => {
  it('puts every stream of a prefix in one slot, as the cluster computes it', async () => {
    const handler = await connect({ url, exchangePrefix: 'a}b{' });
    const admin = new Cluster([{ host: '127.0.0.1', port: Number(new URL(nodeUrls[0]!).port) }]);
    try {
      const { keys, handlerId } = transportOf<RedisStreamsTransport>(handler);
      const names = EXCHANGE_NAMES.flatMap((exchange) =>
        Array.from({ length: 200 }, (_, i) => keys.bucketStream(exchange, `k${i}`)),
      );
      names.push(keys.wakeStream(handlerId));
      const slots = new Set<number>();
      for (const name of new Set(names)) slots.add(Number(await admin.cluster('KEYSLOT', name)));
      expect(slots.size).toBe(1);
    } finally {
      admin.disconnect();
      await handler.close();
    }
  });

  it('delivers every message exactly once, in order per key, while CLIENT KILL drops both sides', async () => {
    await expectExactlyOnceAcrossKills(url, nodeUrls);
  }, 180_000);
});
