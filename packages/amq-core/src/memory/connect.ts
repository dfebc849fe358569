import { createHandler } from '../handler';
import type { HandlerOptions } from '../options';
import type { AMQSettings } from '../settings';
import { parseBrokerUrl } from '../settings';
import type { AMQHandler } from '../types';
import { MemoryBroker } from './broker';
import { MemoryTransport } from './transport';

/**
 * Connects a handler to an in-process broker: `memory://` is the default one,
 * `memory://name` a separate one. Bodies cross it through the real wire codec.
 */
export async function connectMemory(options: AMQSettings & HandlerOptions): Promise<AMQHandler> {
  const url = parseBrokerUrl(options.url, 'url');
  if (url.protocol !== 'memory:') {
    throw new TypeError(`[@teal/amq-core] connectMemory() takes memory: URLs, not ${url.protocol}`);
  }
  const broker = MemoryBroker.named(url.hostname);
  return createHandler(async (context) => new MemoryTransport(broker, context), options);
}
