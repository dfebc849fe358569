import {
  type AMQExchangeName,
  type AMQHandler,
  AMQRoutingKeyError,
  createHandler,
  type Transport,
  type TransportContext,
} from '@teal/amq-core/adapter';
import { NatsLink } from './connection';
import { sleep } from './connection-retry';
import { Receiver } from './consumer';
import { MAX_ROUTING_KEY_BYTES, Subjects, SubjectTokenError } from './names';
import { encodeMetadata, type Metadata } from './publisher-chunks';
import { type NatsConnectOptions, type NatsSettings, resolveSettings } from './settings';
import { CoreMode } from './transport-core';
import { JetStreamMode } from './transport-jetstream';

/** A message to publish, as a mode gets it. */
export interface Outgoing {
  readonly exchange: AMQExchangeName;
  readonly subject: string;
  readonly body: string | Uint8Array;
  /** Trace context as NATS headers, when someone traces. */
  readonly metadata: Metadata | undefined;
}

/** A routing key as a mode gets it: with its exchange and the subject it maps to. */
export interface Key {
  readonly exchange: AMQExchangeName;
  readonly routingKey: string;
  readonly subject: string;
}

/** What a mode is made with: the connection and what the transport shares with it. */
export interface ModeParts {
  readonly link: NatsLink;
  readonly settings: NatsSettings;
  readonly context: TransportContext;
  readonly subjects: Subjects;
  /** Where received messages go. */
  readonly receiver: Receiver;
}

/**
 * What differs between the two modes: how a body is published and confirmed,
 * and what a bound key holds on the server. Subjects are computed and checked
 * before a mode sees them.
 */
export interface ModeTransport {
  readonly appliesBackpressure: boolean;
  publish(message: Outgoing, signal: AbortSignal): Promise<void>;
  bind(key: Key, signal: AbortSignal): Promise<void>;
  unbind(key: Key, signal: AbortSignal): Promise<void>;
  resources(): string[];
  /** Releases what the mode holds on the server, before the connection closes; gives up at `signal`. */
  release(signal: AbortSignal): Promise<void>;
}

/** A handler's NATS transport: one connection, its subjects, and the mode that publishes and binds. */
export class NatsTransport implements Transport {
  readonly name = '@teal/amq-nats';
  readonly maxRoutingKeyBytes = MAX_ROUTING_KEY_BYTES;
  readonly link: NatsLink;
  readonly mode: ModeTransport;
  readonly #subjects: Subjects;
  readonly #receiver: Receiver;

  constructor(link: NatsLink, subjects: Subjects, receiver: Receiver, mode: ModeTransport) {
    this.link = link;
    this.#subjects = subjects;
    this.#receiver = receiver;
    this.mode = mode;
  }

  get isConnected(): boolean {
    return this.link.isConnected;
  }

  get appliesBackpressure(): boolean {
    return this.mode.appliesBackpressure;
  }

  publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
    headers?: Readonly<Record<string, string>>,
  ): Promise<void> {
    const subject = this.#subjectOf(exchange, routingKey);
    const metadata = headers === undefined ? undefined : this.#metadataOf(exchange, headers);
    return this.mode.publish({ exchange, subject, body, metadata }, signal);
  }

  bind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    const subject = this.#subjectOf(exchange, routingKey);
    return this.mode.bind({ exchange, routingKey, subject }, signal);
  }

  unbind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    const subject = this.#subjectOf(exchange, routingKey);
    return this.mode.unbind({ exchange, routingKey, subject }, signal);
  }

  resources(): readonly string[] {
    return this.mode.resources();
  }

  async close(signal: AbortSignal): Promise<void> {
    try {
      await this.mode.release(signal);
    } finally {
      this.#receiver.clear();
      await this.link.close(signal);
    }
  }

  /**
   * Drops the connection as a network failure would (the socket is destroyed;
   * the server drops the client's subscriptions) and resolves once the client
   * noticed. The client then reconnects by itself. For tests.
   */
  async dropConnection(): Promise<void> {
    const before = this.link.disconnects;
    await this.link.nc.reconnect();
    const deadline = Date.now() + 10_000;
    while (this.link.disconnects === before && Date.now() < deadline) await sleep(5);
  }

  /** Trace context as NATS headers; what NATS cannot carry is left out, with a warning. */
  #metadataOf(
    exchange: AMQExchangeName,
    headers: Readonly<Record<string, string>>,
  ): Metadata | undefined {
    const { metadata, skipped } = encodeMetadata(headers);
    if (skipped > 0) {
      this.link.logger.warn('left out message headers NATS cannot carry', {
        exchange,
        droppedHeaders: skipped,
      });
    }
    return metadata;
  }

  #subjectOf(exchange: AMQExchangeName, key: string): string {
    try {
      return this.#subjects.of(exchange, key);
    } catch (error) {
      if (error instanceof SubjectTokenError) {
        throw new AMQRoutingKeyError(error.message.replace('a string', 'a routing key'), {
          cause: error,
        });
      }
      throw error;
    }
  }
}

/**
 * Connects a handler to NATS: `nats://host:4222` (or `tls://`), core mode by
 * default, JetStream with `mode: 'jetstream'` or `?mode=jetstream`.
 */
export async function connect(options: NatsConnectOptions): Promise<AMQHandler> {
  const settings = resolveSettings(options);
  return createHandler(async (context): Promise<NatsTransport> => {
    const link = await NatsLink.open(settings, context);
    try {
      const subjects = new Subjects(settings.subjectRoot, settings.exchangePrefix);
      const receiver = new Receiver(context, settings);
      const parts: ModeParts = { link, settings, context, subjects, receiver };
      const mode =
        settings.mode === 'jetstream' ? await JetStreamMode.open(parts) : new CoreMode(parts);
      return new NatsTransport(link, subjects, receiver, mode);
    } catch (error) {
      await link.close();
      throw error;
    }
  }, options);
}
