import { describeWithBroker } from '@teal/amq-core/testing';
import { it } from 'vitest';
import { REDIS_URL, unavailable } from './support/broker';
import { expectExactlyOnceAcrossKills } from './support/kill-scenario';

describeWithBroker('redis-streams reconnect', unavailable, () => {
  it('delivers every message exactly once, in order per key, while CLIENT KILL drops both sides', async () => {
    await expectExactlyOnceAcrossKills(REDIS_URL, [REDIS_URL]);
  }, 180_000);
});
