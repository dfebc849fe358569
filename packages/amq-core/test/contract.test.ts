import { connectMemory } from '../src/index';
import { MemoryBroker } from '../src/memory/broker';
import type { MemoryTransport } from '../src/memory/transport';
import { describeHandlerContract, transportOf } from '../src/testing/index';

describeHandlerContract({
  name: 'memory',
  createHandler: (options) => connectMemory({ url: 'memory://contract', ...options }),
  capabilities: {
    dropConnection: async (handler) => transportOf<MemoryTransport>(handler).dropConnection(),
    brokerResources: async (handler) =>
      MemoryBroker.named('contract').bindingsOf(transportOf<MemoryTransport>(handler)),
    publishAtBroker: async ({ exchangePrefix, exchange, routingKey }, body) =>
      MemoryBroker.named('contract').publish(exchangePrefix + exchange, routingKey, body),
  },
});
