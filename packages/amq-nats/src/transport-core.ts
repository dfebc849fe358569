import type { AMQExchangeName, TransportContext } from '@teal/amq-core/adapter';
import { CoreBindings } from './bindings';
import type { NatsLink } from './connection';
import type { Receiver } from './consumer';
import { CorePublisher, SendWatch } from './publisher';
import { type Metadata, splitBody } from './publisher-chunks';
import type { NatsSettings } from './settings';
import type { ModeTransport } from './transport';

/**
 * Core NATS: one subscription per bound key (see `CoreBindings`); publishes
 * are confirmed by a coalesced flush and never sent twice (at most once). The
 * client restores subscriptions after a reconnect; what was published
 * meanwhile is not delivered. The server cannot be held back, so a backlog
 * that overflows is dropped and counted by core.
 */
export class CoreMode implements ModeTransport {
  readonly appliesBackpressure = false;
  readonly bindings: CoreBindings;
  readonly #link: NatsLink;
  readonly #settings: NatsSettings;
  readonly #publisher: CorePublisher;

  constructor(
    link: NatsLink,
    settings: NatsSettings,
    context: TransportContext,
    receiver: Receiver,
  ) {
    this.#link = link;
    this.#settings = settings;
    this.#publisher = new CorePublisher(link, new SendWatch(context.sendTimeoutMs));
    this.bindings = new CoreBindings(link, receiver, (error) => context.reportError(error));
  }

  publish(
    exchange: AMQExchangeName,
    subject: string,
    body: string | Uint8Array,
    signal: AbortSignal,
    metadata: Metadata | undefined,
  ): Promise<void> {
    const parts = splitBody(body, this.#link.maxPayload, this.#settings.maxMessageBytes, metadata);
    return this.#publisher.publish(exchange, subject, parts, signal);
  }

  bind(
    exchange: AMQExchangeName,
    routingKey: string,
    subject: string,
    signal: AbortSignal,
  ): Promise<void> {
    return this.bindings.bind(exchange, routingKey, subject, signal);
  }

  async unbind(_exchange: AMQExchangeName, _routingKey: string, subject: string): Promise<void> {
    this.bindings.unbind(subject);
  }

  resources(): string[] {
    return this.bindings.resources();
  }

  async release(): Promise<void> {
    this.bindings.clear();
  }
}
