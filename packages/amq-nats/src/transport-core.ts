import { CoreBindings } from './bindings';
import type { NatsLink } from './connection';
import { CorePublisher, SendWatch } from './publisher';
import { splitBody } from './publisher-chunks';
import type { NatsSettings } from './settings';
import type { Key, ModeParts, ModeTransport, Outgoing } from './transport';

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

  constructor({ link, settings, context, receiver }: ModeParts) {
    this.#link = link;
    this.#settings = settings;
    this.#publisher = new CorePublisher(link, new SendWatch(context.sendTimeoutMs));
    this.bindings = new CoreBindings(link, receiver, (error) => context.reportError(error));
  }

  publish(message: Outgoing, signal: AbortSignal): Promise<void> {
    const { maxPayload } = this.#link;
    const parts = splitBody(
      message.body,
      maxPayload,
      this.#settings.maxMessageBytes,
      message.metadata,
    );
    return this.#publisher.publish(message.exchange, message.subject, parts, signal);
  }

  bind(key: Key, signal: AbortSignal): Promise<void> {
    return this.bindings.bind(key, signal);
  }

  async unbind(key: Key): Promise<void> {
    this.bindings.unbind(key.subject);
  }

  resources(): string[] {
    return this.bindings.resources();
  }

  async release(): Promise<void> {
    this.bindings.clear();
  }
}
