import { connectMemory } from '../src/index';
import type { MemoryTransport } from '../src/memory/transport';
import { describeHandlerContract, transportOf } from '../src/testing/index';

describeHandlerContract({
  name: 'memory',
  createHandler: (options) => connectMemory({ url: 'memory://contract', ...options }),
  capabilities: {
    dropConnection: async (handler) => transportOf<MemoryTransport>(handler).dropConnection(),
  },
});
