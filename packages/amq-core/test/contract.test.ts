import { connectMemory } from '../src/index';
import { memoryTransportOf } from '../src/memory/connect';
import { describeHandlerContract } from '../src/testing/index';

describeHandlerContract({
  name: 'memory',
  createHandler: (options) => connectMemory({ url: 'memory://contract', ...options }),
  capabilities: {
    dropConnection: async (handler) => memoryTransportOf(handler).dropConnection(),
  },
});
