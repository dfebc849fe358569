import type { Msg } from '@nats-io/transport-node';
import type { AMQExchangeName, LogFields, Logger, TransportContext } from '@teal/amq-core/adapter';
import { Reassembler } from './consumer-chunks';
import type { NatsSettings } from './settings';

/**
 * The receiving side both modes share: a NATS message of a bound key becomes
 * a delivery of the handler, once whole if it came in chunks, with the
 * metadata (trace context) its headers carried. What no sender of ours could
 * have written is dropped here with a warning.
 */
export class Receiver {
  readonly #context: TransportContext;
  readonly #reassembler: Reassembler;

  constructor(context: TransportContext, settings: NatsSettings) {
    this.#context = context;
    this.#reassembler = new Reassembler(
      context.logger,
      settings.chunkTimeoutMs,
      settings.maxMessageBytes,
    );
  }

  /**
   * Hands a received message to the handler. Runs inside the client's socket
   * reader: nothing it throws may escape.
   */
  receive(exchange: AMQExchangeName, routingKey: string, msg: Msg): void {
    contain(this.#context.logger, { exchange }, () => {
      // Without headers, as any NATS client publishes: nothing to reassemble or read.
      if (msg.headers === undefined) {
        this.#context.deliver({ exchange, routingKey, body: msg.data });
        return;
      }
      const whole = this.#reassembler.accept(exchange, msg);
      if (whole === undefined) return;
      const { body, headers } = whole;
      this.#context.deliver(
        headers === undefined
          ? { exchange, routingKey, body }
          : { exchange, routingKey, body, headers },
      );
    });
  }

  /** Forgets every incomplete large message. */
  clear(): void {
    this.#reassembler.clear();
  }
}

/**
 * Runs the work of a subscription callback. The NATS client calls those from
 * its socket reader: an exception escaping one stops the reader for good
 * while the connection still looks up, so every key of the handler would go
 * silent until the ping timeout. Whatever the message was, it is dropped with
 * a warning that names the error's class only (its text may quote the
 * message's headers).
 */
export function contain(logger: Logger, fields: LogFields, work: () => void): void {
  try {
    work();
  } catch (error) {
    logger.warn('dropped a message the adapter could not handle', {
      ...fields,
      reason: error instanceof Error ? error.name : typeof error,
    });
  }
}
