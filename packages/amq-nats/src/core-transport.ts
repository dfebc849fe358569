import type { Subscription } from '@nats-io/transport-node';
import { AMQError, type AMQExchangeName } from '@teal/amq-core';
import { NatsTransportBase } from './base';
import { contain } from './contain';
import { asAMQError, retryUntil } from './retry';

/**
 * Core NATS: one subscription per bound key on its literal subject, so the
 * server routes and the handler receives only what it bound. Publishes are
 * confirmed by a coalesced flush. The client restores subscriptions after a
 * reconnect; what was published meanwhile is not delivered (at most once).
 */
export class CoreTransport extends NatsTransportBase {
  readonly #subscriptions = new Map<string, Subscription>();

  async publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
  ): Promise<void> {
    const subject = this.subjectOf(exchange, routingKey);
    const parts = this.partsOf(body, this.link.maxPayload);
    const deadline = Date.now() + this.context.sendTimeoutMs;
    // A flush that fails lost the connection: whether the server got the parts is unknown,
    // so they go again after the reconnect (a receiver may, rarely, get a message twice).
    await retryUntil(this.link, deadline, async () => {
      for (const part of parts) {
        this.link.nc.publish(
          subject,
          part.data,
          part.headers ? { headers: part.headers } : undefined,
        );
      }
      await this.link.flush();
    });
  }

  async bind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    const subject = this.subjectOf(exchange, routingKey);
    if (this.#subscriptions.has(subject)) return;
    const subscription = this.link.nc.subscribe(subject, {
      callback: (error, msg) =>
        contain(this.context.logger, { exchange }, () => {
          if (error !== null) {
            this.context.reportError(
              new AMQError(`[@teal/amq-nats] a subscription on ${exchange} failed`, {
                cause: error,
              }),
            );
            return;
          }
          this.deliver(exchange, routingKey, msg);
        }),
    });
    this.#subscriptions.set(subject, subscription);
    try {
      // Once the server answers the flush, it has the subscription.
      await retryUntil(this.link, Date.now() + this.context.sendTimeoutMs, () => this.link.flush());
    } catch (error) {
      subscription.unsubscribe();
      this.#subscriptions.delete(subject);
      throw asAMQError(error, `the server did not confirm the binding on ${exchange}`);
    }
  }

  async unbind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    const subject = this.subjectOf(exchange, routingKey);
    this.#subscriptions.get(subject)?.unsubscribe();
    this.#subscriptions.delete(subject);
  }

  /** How many subscriptions the transport holds: zero after unbinding everything. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  protected async release(): Promise<void> {
    for (const subscription of this.#subscriptions.values()) subscription.unsubscribe();
    this.#subscriptions.clear();
  }
}
