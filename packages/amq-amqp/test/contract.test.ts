import { describeHandlerContract, probeBroker } from '@teal/amq-core/testing';
import { afterAll } from 'vitest';
import { connect } from '../src/index';
import { AMQP_URL, deleteExchanges, dropConnection } from './broker';

const prefixes = new Set<string>();
afterAll(() => deleteExchanges(prefixes));

describeHandlerContract({
  name: 'amqp',
  unavailable: await probeBroker(AMQP_URL),
  createHandler: (options) => {
    prefixes.add(options.exchangePrefix);
    return connect({ url: AMQP_URL, ...options });
  },
  // Broker-side: `rabbitmqctl` closes the handler's connection, found by its name.
  capabilities: { dropConnection, deliversAcrossReconnect: true },
});
