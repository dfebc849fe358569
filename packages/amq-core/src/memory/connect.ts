import type { HandlerOptions } from '../handler';
import { createHandler } from '../handler';
import type { AMQSettings } from '../settings';
import { parseBrokerUrl } from '../settings';
import type { AMQHandler } from '../types';
import { MemoryBroker } from './broker';
import { MemoryTransport } from './transport';

const transports = new WeakMap<AMQHandler, MemoryTransport>();

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
  let transport: MemoryTransport | undefined;
  const handler = await createHandler(async (context) => {
    transport = new MemoryTransport(broker, context);
    return transport;
  }, options);
  transports.set(handler, transport!);
  return handler;
}

/** The transport behind a memory handler, for tests that simulate connection loss. */
export function memoryTransportOf(handler: AMQHandler): MemoryTransport {
  const transport = transports.get(handler);
  if (transport === undefined) {
    throw new TypeError('[@teal/amq-core] not a handler made by connectMemory()');
  }
  return transport;
}
