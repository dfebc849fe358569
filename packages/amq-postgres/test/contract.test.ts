import { describeHandlerContract } from '@teal/amq-core/testing';
import { connect } from '../src/index';
import * as broker from './support/broker';

describeHandlerContract({
  name: 'postgres',
  url: broker.POSTGRES_URL,
  unavailable: await broker.postgresUnavailable(),
  createHandler: (options) => connect({ url: broker.POSTGRES_URL, ...options }),
  cleanup: broker.cleanup,
  capabilities: {
    dropConnection: broker.dropConnection,
    deliversAcrossReconnect: true,
    brokerResources: broker.brokerResources,
    publishAtBroker: broker.publishAtBroker,
    hostileFrames: broker.hostileFrames,
  },
});
