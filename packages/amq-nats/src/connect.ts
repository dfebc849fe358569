import { type AMQHandler, createHandler } from '@teal/amq-core/adapter';
import type { NatsTransportBase } from './base';
import { CoreTransport } from './core-transport';
import { JetStreamTransport } from './jetstream-transport';
import { NatsLink } from './link';
import { type NatsConnectOptions, resolveSettings } from './settings';

/**
 * Connects a handler to NATS: `nats://host:4222` (or `tls://`), core mode by
 * default, JetStream with `mode: 'jetstream'` or `?mode=jetstream`.
 */
export async function connect(options: NatsConnectOptions): Promise<AMQHandler> {
  const settings = resolveSettings(options);
  return createHandler(async (context): Promise<NatsTransportBase> => {
    const link = await NatsLink.open(settings, context);
    try {
      return settings.mode === 'jetstream'
        ? await JetStreamTransport.open(link, settings, context)
        : new CoreTransport(link, settings, context);
    } catch (error) {
      await link.close();
      throw error;
    }
  }, options);
}
