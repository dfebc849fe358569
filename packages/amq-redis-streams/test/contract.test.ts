import { describeHandlerContract } from '@teal/amq-core/testing';
import { connect } from '../src/index';
import { REDIS_URL, redisCapabilities, unavailable } from './support/broker';

describeHandlerContract({
  name: 'redis-streams',
  url: REDIS_URL,
  unavailable,
  createHandler: (options) => connect({ url: REDIS_URL, ...options }),
  capabilities: redisCapabilities([REDIS_URL]),
});
