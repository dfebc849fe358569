import { describeHandlerContract, probeBroker } from '@teal/amq-core/testing';
import { connect } from '../src/index';
import { dropConnections } from './support/drop';
import { REDIS_URL } from './support/redis';

describeHandlerContract({
  name: 'redis-streams',
  unavailable: await probeBroker(REDIS_URL),
  createHandler: (options) => connect({ url: REDIS_URL, ...options }),
  capabilities: {
    dropConnection: async (handler) => void (await dropConnections(handler, [REDIS_URL])),
    deliversAcrossReconnect: true,
  },
});
