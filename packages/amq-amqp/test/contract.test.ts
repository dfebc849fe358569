import { describeHandlerContract, probeBroker } from '@teal/amq-core/testing';
import { connect } from '../src/index';
import { AMQP_URL, deleteExchanges, dropConnection } from './broker';

describeHandlerContract({
  name: 'amqp',
  unavailable: await probeBroker(AMQP_URL),
  createHandler: (options) => connect({ url: AMQP_URL, ...options }),
  cleanup: deleteExchanges,
  // Broker-side: `rabbitmqctl` closes the handler's connection, found by its name.
  capabilities: { dropConnection, deliversAcrossReconnect: true },
});
