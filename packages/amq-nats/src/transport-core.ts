import type { Subscription } from '@nats-io/transport-node';
import { AMQError, type AMQExchangeName, AMQSendError } from '@teal/amq-core/adapter';
import { asAMQError, raceSignal, sleep } from './connection-retry';
import { contain } from './contain';
import { bindingLine, NatsTransportBase } from './transport';

interface Bound {
  readonly exchange: AMQExchangeName;
  readonly routingKey: string;
  readonly subscription: Subscription;
}

/**
 * Core NATS: one subscription per bound key on its literal subject, so the
 * server routes and the handler receives only what it bound. Publishes are
 * confirmed by a coalesced flush and never sent twice (at most once). The
 * client restores subscriptions after a reconnect; what was published
 * meanwhile is not delivered. The server cannot be held back, so a backlog
 * that overflows is dropped and counted by core.
 */
export class CoreTransport extends NatsTransportBase {
  readonly #bound = new Map<string, Bound>();

  async publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
  ): Promise<void> {
    const subject = this.subjectOf(exchange, routingKey);
    const parts = this.partsOf(body, this.link.maxPayload);
    await this.link.waitConnected(signal);
    signal.throwIfAborted();
    const epoch = this.link.disconnects;
    for (const part of parts) {
      this.link.nc.publish(
        subject,
        part.data,
        part.headers ? { headers: part.headers } : undefined,
      );
    }
    try {
      await raceSignal(this.link.flush(), signal);
    } catch (error) {
      if (signal.aborted) {
        this.link.abandon(epoch, 'the server did not confirm a publish before its deadline');
        throw error;
      }
      // The connection dropped before the server confirmed: whether it got the message is
      // unknown, and sending it again could deliver it twice. Core NATS is at most once.
      throw new NatsUnconfirmedSendError(
        `[@teal/amq-nats] the connection to ${this.settings.server} dropped before the server confirmed the message on ${exchange}: it was not sent again, and may or may not have been delivered (core NATS delivers at most once; use mode=jetstream for confirmed sends)`,
        { cause: error },
      );
    }
  }

  async bind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    const subject = this.subjectOf(exchange, routingKey);
    if (this.#bound.has(subject)) return;
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
    this.#bound.set(subject, { exchange, routingKey, subscription });
    try {
      // Once the server answers a flush sent after the SUB, it has the subscription. A flush
      // cut by a disconnect is sent again: the client sends every SUB again on reconnecting.
      for (;;) {
        await this.link.waitConnected(signal);
        const epoch = this.link.disconnects;
        try {
          await raceSignal(this.link.flush(), signal);
          return;
        } catch (error) {
          if (signal.aborted) {
            this.link.abandon(
              epoch,
              'the server did not confirm a subscription before its deadline',
            );
          }
          if (signal.aborted || this.link.nc.isClosed()) throw error;
        }
        await sleep(50, signal);
      }
    } catch (error) {
      if (this.#bound.get(subject)?.subscription === subscription) this.#unsubscribe(subject);
      throw asAMQError(error, `the server did not confirm the binding on ${exchange}`);
    }
  }

  async unbind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    // Unreachable server or not, the client forgets the subscription now and restores
    // only the others on reconnecting: the server ends up without it either way.
    this.#unsubscribe(this.subjectOf(exchange, routingKey));
  }

  resources(): readonly string[] {
    return [...this.#bound.values()].map(({ exchange, routingKey }) =>
      bindingLine(exchange, routingKey),
    );
  }

  /** How many subscriptions the transport holds: zero after unbinding everything. */
  get subscriptionCount(): number {
    return this.#bound.size;
  }

  protected async release(): Promise<void> {
    for (const subject of [...this.#bound.keys()]) this.#unsubscribe(subject);
  }

  #unsubscribe(subject: string): void {
    this.#bound.get(subject)?.subscription.unsubscribe();
    this.#bound.delete(subject);
  }
}

/**
 * A core-mode send whose connection dropped after the message was written but
 * before the server confirmed it: the server may or may not have it, and it
 * is not sent again (a second copy could be delivered twice).
 */
export class NatsUnconfirmedSendError extends AMQSendError {
  override name = 'NatsUnconfirmedSendError';
}
