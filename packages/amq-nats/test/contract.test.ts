import type { AMQHandler, HandlerOptions } from '@teal/amq-core';
import {
  describeHandlerContract,
  probeBroker,
  randomKey,
  transportOf,
} from '@teal/amq-core/testing';
import { afterAll } from 'vitest';
import { connect } from '../src/index';
import type { NatsTransportBase } from '../src/transport';
import {
  consumersOnServer,
  hostileFrames,
  rawClient,
  subscriptionsOnServer,
} from './support/broker';
import {
  durableHandlers,
  NATS_URL,
  PrivateServer,
  privateServerUnavailable,
} from './support/server';

// Destroys the handler's socket (nats.js reconnect()): the server drops its subscriptions,
// and the client must reconnect and restore them through its own reconnect path.
const dropConnection = (handler: AMQHandler) =>
  transportOf<NatsTransportBase>(handler).dropConnection();

// Core mode keeps its bindings as the server's subscriptions, which only the monitoring
// endpoint lists; the shared server runs without one. So the core target runs on a private
// nats-server (the same binary, default settings) started here with monitoring on.
const coreUnavailable = privateServerUnavailable();
const monitored =
  coreUnavailable === null ? await PrivateServer.start('', { monitoring: true }) : undefined;
afterAll(async () => {
  await monitored?.stop();
});
const coreUrl = monitored?.url ?? NATS_URL;
/** Each core handler's connection name and prefix: how the monitoring view finds it. */
const coreConnections = new WeakMap<AMQHandler, { name: string; exchangePrefix: string }>();
const coreRaw = rawClient(coreUrl, 'core');

describeHandlerContract({
  name: 'nats',
  unavailable: coreUnavailable,
  url: coreUrl,
  createHandler: async (options: HandlerOptions & { exchangePrefix: string; url?: string }) => {
    const name = `teal-test-${randomKey('conn')}`;
    const handler = await connect({
      url: coreUrl,
      ...options,
      connectionOptions: { name },
    });
    coreConnections.set(handler, { name, exchangePrefix: options.exchangePrefix });
    return handler;
  },
  capabilities: {
    dropConnection,
    brokerResources: async (handler) => {
      const { name, exchangePrefix } = coreConnections.get(handler)!;
      return subscriptionsOnServer(monitored!.monitorUrl!, name, exchangePrefix);
    },
    publishAtBroker: coreRaw.publishAtBroker,
    hostileFrames: hostileFrames(coreRaw.publish, false),
  },
});

const unavailable = await probeBroker(NATS_URL);
const durableRaw = rawClient(NATS_URL, 'jetstream');

describeHandlerContract({
  name: 'nats (durable)',
  unavailable,
  url: NATS_URL,
  // Sets mode in code: a proxied url without the query keeps it.
  createHandler: durableHandlers(NATS_URL),
  capabilities: {
    dropConnection,
    deliversAcrossReconnect: true,
    brokerResources: (handler) => consumersOnServer(NATS_URL, handler),
    publishAtBroker: durableRaw.publishAtBroker,
    hostileFrames: hostileFrames(durableRaw.publish, true),
  },
});
