import { describeHandlerContract, probeBroker } from '@teal/amq-core/testing';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { connect } from '../src/index';
import { dropConnections } from './support/drop';
import { redisCapabilities } from './support/frames';
import { REDIS_URL } from './support/redis';

let admin: Redis | null = null;
afterAll(() => admin?.disconnect());

describeHandlerContract({
  name: 'redis-streams',
  url: REDIS_URL,
  unavailable: await probeBroker(REDIS_URL),
  createHandler: (options) => connect({ url: REDIS_URL, ...options }),
  capabilities: {
    dropConnection: async (handler) => void (await dropConnections(handler, [REDIS_URL])),
    deliversAcrossReconnect: true,
    ...redisCapabilities(() => {
      admin ??= new Redis(REDIS_URL);
      return admin;
    }),
  },
});
