import type { Subscription } from '@nats-io/transport-node';
import { type AMQExchangeName, raceSignal } from '@teal/amq-core/adapter';
import { NatsConnectionError, type NatsLink } from './connection';
import { sleep } from './connection-retry';
import { contain, type Receiver } from './consumer';
import type { Key } from './transport';

interface Bound {
  readonly exchange: AMQExchangeName;
  readonly routingKey: string;
  readonly subscription: Subscription;
}

/**
 * Core NATS keys: one subscription per bound key on its literal subject, so
 * the server routes and the handler receives only what it bound. The client
 * sends every subscription again after a reconnect, and only those: a key
 * unbound during an outage is gone from the server once it is back.
 */
export class CoreBindings {
  readonly #link: NatsLink;
  readonly #receiver: Receiver;
  readonly #reportError: (error: unknown) => void;
  readonly #bound = new Map<string, Bound>();

  constructor(link: NatsLink, receiver: Receiver, reportError: (error: unknown) => void) {
    this.#link = link;
    this.#receiver = receiver;
    this.#reportError = reportError;
  }

  /** Subscribes `subject`; resolves once the server has the subscription. */
  async bind({ exchange, routingKey, subject }: Key, signal: AbortSignal): Promise<void> {
    if (this.#bound.has(subject)) return;
    const subscription = this.#link.nc.subscribe(subject, {
      callback: (error, msg) =>
        contain(this.#link.logger, { exchange }, () => {
          if (error !== null) {
            this.#reportError(
              new NatsConnectionError(`[@teal/amq-nats] a subscription on ${exchange} failed`, {
                cause: error,
              }),
            );
            return;
          }
          this.#receiver.receive(exchange, routingKey, msg);
        }),
    });
    this.#bound.set(subject, { exchange, routingKey, subscription });
    try {
      // Once the server answers a flush sent after the SUB, it has the subscription. A flush
      // cut by a disconnect is sent again: the client sends every SUB again on reconnecting.
      for (;;) {
        await this.#link.waitConnected(signal);
        const epoch = this.#link.disconnects;
        try {
          await raceSignal(this.#link.flush(), signal);
          return;
        } catch (error) {
          if (signal.aborted) {
            this.#link.abandon(
              epoch,
              'the server did not confirm a subscription before its deadline',
            );
          }
          if (signal.aborted || this.#link.nc.isClosed()) throw error;
        }
        await sleep(50, signal);
      }
    } catch (error) {
      if (this.#bound.get(subject)?.subscription === subscription) this.unbind(subject);
      throw error;
    }
  }

  /**
   * Unsubscribes `subject`. Unreachable server or not, the client forgets the
   * subscription now and restores only the others on reconnecting.
   */
  unbind(subject: string): void {
    this.#bound.get(subject)?.subscription.unsubscribe();
    this.#bound.delete(subject);
  }

  /** Unsubscribes every key. */
  clear(): void {
    for (const subject of [...this.#bound.keys()]) this.unbind(subject);
  }

  /** How many subscriptions are held: zero after unbinding everything. */
  get size(): number {
    return this.#bound.size;
  }

  /** `binding <exchange> <key>` per bound key. */
  resources(): string[] {
    return [...this.#bound.values()].map(({ exchange, routingKey }) =>
      bindingLine(exchange, routingKey),
    );
  }
}

/** How a binding reads in `resources()`, and in the broker's view tests compare it with. */
export function bindingLine(exchange: AMQExchangeName, routingKey: string): string {
  return `binding ${exchange} ${routingKey}`;
}
