import { type AMQHandler, createHandler } from '@teal/amq-core/adapter';
import { NatsLink } from './connection';
import { type NatsConnectOptions, resolveSettings } from './settings';
import type { NatsTransportBase } from './transport';
import { CoreTransport } from './transport-core';
import { JetStreamTransport } from './transport-jetstream';

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
