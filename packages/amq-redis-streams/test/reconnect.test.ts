import { describeWithBroker } from '@teal/amq-core/testing';
import { it } from 'vitest';
import { expectExactlyOnceAcrossKills } from './support/kill-scenario';
import { REDIS_URL, redisUnavailable } from './support/redis';

describeWithBroker('redis-streams reconnect', await redisUnavailable(), () => {
  it('delivers every message exactly once, in order per key, while CLIENT KILL drops both sides', async () => {
    await expectExactlyOnceAcrossKills(REDIS_URL, [REDIS_URL]);
  }, 180_000);
});
