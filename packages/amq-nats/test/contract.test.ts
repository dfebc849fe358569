import type { AMQHandler } from '@teal/amq-core';
import { describeHandlerContract, probeBroker, transportOf } from '@teal/amq-core/testing';
import type { NatsTransportBase } from '../src/base';
import { connect } from '../src/index';
import { durableHandlers, NATS_URL } from './support';

const unavailable = await probeBroker(NATS_URL);
// Destroys the handler's socket (nats.js reconnect()): the server drops its subscriptions,
// and the client must reconnect and restore them through its own reconnect path.
const dropConnection = (handler: AMQHandler) =>
  transportOf<NatsTransportBase>(handler).dropConnection();

describeHandlerContract({
  name: 'nats',
  unavailable,
  createHandler: (options) => connect({ url: NATS_URL, ...options }),
  capabilities: { dropConnection },
});

describeHandlerContract({
  name: 'nats (durable)',
  unavailable,
  createHandler: durableHandlers(NATS_URL),
  capabilities: { dropConnection, deliversAcrossReconnect: true },
});
