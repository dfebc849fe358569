import { describeHandlerContract } from '@teal/amq-core/testing';
import { afterAll } from 'vitest';
import { connect } from '../src/index';
import { AMQP_URL, brokerCapabilities, deleteExchanges, probeRabbit } from './support/broker';

const capabilities = brokerCapabilities();
afterAll(() => capabilities.close());

describeHandlerContract({
  name: 'amqp',
  unavailable: await probeRabbit(),
  url: AMQP_URL,
  createHandler: (options) => connect({ url: AMQP_URL, ...options }),
  cleanup: deleteExchanges,
  capabilities,
});
