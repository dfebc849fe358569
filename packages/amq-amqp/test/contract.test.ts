import { describeHandlerContract, probeBroker } from '@teal/amq-core/testing';
import { afterAll } from 'vitest';
import { connect } from '../src/index';
import { AMQP_URL, deleteExchanges, dropConnection } from './support/broker';
import { BrokerPublisher, hostileFrames } from './support/hostile-frames';
import { brokerResources } from './support/rabbitmqctl';

const publisher = new BrokerPublisher(AMQP_URL);
afterAll(() => publisher.close());

describeHandlerContract({
  name: 'amqp',
  unavailable: await probeBroker(AMQP_URL),
  url: AMQP_URL,
  createHandler: (options) => connect({ url: AMQP_URL, ...options }),
  cleanup: deleteExchanges,
  capabilities: {
    // Broker-side: `rabbitmqctl` closes the handler's connection, found by its name.
    dropConnection,
    deliversAcrossReconnect: true,
    // RabbitMQ's own listing of queues, consumers and bindings (rabbitmqctl).
    brokerResources: (handler) => brokerResources(handler),
    publishAtBroker: (target, body) => publisher.publish(target, body),
    hostileFrames: hostileFrames(AMQP_URL, publisher),
  },
});
