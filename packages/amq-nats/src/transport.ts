import type { Msg } from '@nats-io/transport-node';
import {
  type AMQExchangeName,
  AMQRoutingKeyError,
  type Transport,
  type TransportContext,
} from '@teal/amq-core/adapter';
import type { NatsLink } from './connection';
import { sleep } from './connection-retry';
import { Reassembler } from './consumer-chunks';
import { contain } from './contain';
import { Subjects, SubjectTokenError } from './names';
import { type Part, splitBody } from './publisher-chunks';
import type { NatsSettings } from './settings';

/**
 * The longest routing key, in UTF-8 bytes. Escaping can triple it in the
 * subject, and a subject must fit the server's control line (4 KiB by
 * default, `max_control_line`) with the prefix, the reply inbox and sizes.
 */
export const MAX_ROUTING_KEY_BYTES = 1024;

const utf8 = new TextEncoder();

/** What the core and JetStream transports share: subjects, chunking, the connection. */
export abstract class NatsTransportBase implements Transport {
  readonly name = '@teal/amq-nats';
  readonly maxRoutingKeyBytes = MAX_ROUTING_KEY_BYTES;
  readonly link: NatsLink;
  protected readonly settings: NatsSettings;
  protected readonly context: TransportContext;
  protected readonly subjects: Subjects;
  readonly #reassembler: Reassembler;

  constructor(link: NatsLink, settings: NatsSettings, context: TransportContext) {
    this.link = link;
    this.settings = settings;
    this.context = context;
    this.subjects = new Subjects(settings.subjectRoot, settings.exchangePrefix);
    this.#reassembler = new Reassembler(
      context.logger,
      settings.chunkTimeoutMs,
      settings.maxMessageBytes,
    );
  }

  get isConnected(): boolean {
    return this.link.isConnected;
  }

  abstract publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
  ): Promise<void>;
  abstract bind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void>;
  abstract unbind(
    exchange: AMQExchangeName,
    routingKey: string,
    signal: AbortSignal,
  ): Promise<void>;
  abstract resources(): readonly string[];

  async close(signal: AbortSignal): Promise<void> {
    try {
      await this.release(signal);
    } finally {
      this.#reassembler.clear();
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

  /** Releases what the transport holds on the server, before the connection closes; gives up at `signal`. */
  protected abstract release(signal: AbortSignal): Promise<void>;

  protected subjectOf(exchange: AMQExchangeName, key: string): string {
    try {
      return this.subjects.of(exchange, key);
    } catch (error) {
      if (error instanceof SubjectTokenError) {
        throw new AMQRoutingKeyError(error.message.replace('a string', 'a routing key'), {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** The NATS messages that carry `body`, each at most `limit` bytes. */
  protected partsOf(body: string | Uint8Array, limit: number): Part[] {
    const bytes = typeof body === 'string' ? utf8.encode(body) : body;
    return splitBody(bytes, limit, this.settings.maxMessageBytes);
  }

  /**
   * Hands a received message to the handler, once whole if it came in chunks.
   * Runs inside the client's socket reader: nothing it throws may escape.
   */
  protected deliver(exchange: AMQExchangeName, routingKey: string, msg: Msg): void {
    contain(this.context.logger, { exchange }, () => {
      const body = this.#reassembler.accept(exchange, msg);
      if (body !== undefined) this.context.deliver({ exchange, routingKey, body });
    });
  }
}

/** How a binding reads in `resources()`, and in the broker's view tests compare it with. */
export function bindingLine(exchange: AMQExchangeName, routingKey: string): string {
  return `binding ${exchange} ${routingKey}`;
}
