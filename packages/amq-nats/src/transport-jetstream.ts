import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/transport-node';
import { AMQSettingsError, raceSignal } from '@teal/amq-core/adapter';
import { ConsumerPool } from './bindings-jetstream';
import { NatsConnectionError, type NatsLink } from './connection';
import { Alarm, ATTEMPT_TIMEOUT_MS, isStreamNotFound, retryUntil } from './connection-retry';
import { SendWatch } from './publisher';
import { StreamAcks } from './publisher-acks';
import { splitBody } from './publisher-chunks';
import { OrderedPublisher } from './publisher-jetstream';
import type { NatsSettings } from './settings';
import { PrefixStream } from './stream';
import type { Key, ModeParts, ModeTransport, Outgoing } from './transport';

/** A request of the JetStream API unanswered this long is tried again (a stream between leaders answers none). */
const API_TIMEOUT_MS = 3_000;

/**
 * JetStream: the prefix's stream captures every subject; a send resolves on
 * the stream's acknowledgement, in call order through retries (see
 * `OrderedPublisher`). Each exchange with bound keys has one consumer,
 * filtered locally by key and deleted with the exchange's last key (see
 * `ConsumerPool`); a key delivers what the stream stored from the moment its
 * bind was called. The consumers stop while the backlog is full, so what a
 * stuck callback cannot take waits in the stream.
 */
export class JetStreamMode implements ModeTransport {
  readonly appliesBackpressure = true;
  readonly stream: PrefixStream;
  readonly #link: NatsLink;
  readonly #settings: NatsSettings;
  readonly #acks: StreamAcks;
  readonly #publisher: OrderedPublisher;
  readonly #pool: ConsumerPool;
  readonly #leaderWatch: Subscription;
  readonly #newLeader = new Alarm();

  private constructor(
    { link, settings, context, subjects, receiver }: ModeParts,
    jsm: JetStreamManager,
  ) {
    this.#link = link;
    this.#settings = settings;
    this.#acks = new StreamAcks(link, ATTEMPT_TIMEOUT_MS);
    this.stream = new PrefixStream(jsm, settings, subjects, context.logger, link.nc.info);
    const repair = (error: unknown) => this.#repairStream(error);
    this.#publisher = new OrderedPublisher(
      link,
      new SendWatch(context.sendTimeoutMs),
      repair,
      this.#newLeader,
    );
    this.#pool = new ConsumerPool({
      link,
      jsm,
      stream: this.stream,
      subjects,
      context,
      deliver: (exchange, key, msg) => receiver.receive(exchange, key, msg),
      repair,
      newLeader: this.#newLeader,
    });
    // A stream leader elected after its server died: the publishes it never answered and the
    // consumers that server held (they died with it, silently) go to the new one now, rather
    // than at their timeouts or when their heartbeats are missed.
    this.#leaderWatch = link.nc.subscribe(
      `$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.${settings.streamName}`,
      {
        callback: () => {
          this.#newLeader.ring();
          void this.#pool.resetAll('the stream elected a new leader');
        },
      },
    );
  }

  static async open(parts: ModeParts): Promise<JetStreamMode> {
    const { link, settings, context } = parts;
    if (link.nc.info?.jetstream !== true) {
      throw new NatsConnectionError(
        `[@teal/amq-nats] ${settings.server} has no JetStream: start nats-server with -js, or use mode=core`,
      );
    }
    const jsm = await jetstreamManager(link.nc, { timeout: API_TIMEOUT_MS, checkAPI: false });
    const mode = new JetStreamMode(parts, jsm);
    try {
      const signal = AbortSignal.timeout(context.sendTimeoutMs);
      await retryUntil(link, signal, () => mode.stream.ensure());
    } catch (cause) {
      if (cause instanceof AMQSettingsError) throw cause;
      throw new NatsConnectionError(
        `[@teal/amq-nats] cannot create or read the JetStream stream ${settings.streamName}`,
        { cause },
      );
    }
    return mode;
  }

  /** Every consumer name of this handler starts with it: `teal_<unique id>_`. */
  get consumerPrefix(): string {
    return this.#pool.prefix;
  }

  async publish(message: Outgoing, signal: AbortSignal): Promise<void> {
    const limit = Math.min(this.#link.maxPayload, this.stream.maxMessageSize);
    const parts = splitBody(message.body, limit, this.#settings.maxMessageBytes, message.metadata);
    // Every try sends the same message ids: the stream stores each part once.
    const attempt = () =>
      Promise.all(
        parts.map((part) => this.#acks.publish(message.subject, part.data, part.id, part.headers)),
      );
    await this.#publisher.publish(message.exchange, attempt, signal);
  }

  async bind({ exchange, routingKey }: Key, signal: AbortSignal): Promise<void> {
    let start: number | undefined;
    try {
      start = await retryUntil(
        this.#link,
        signal,
        () => this.stream.nextSequence(),
        (error) => this.#repairStream(error),
      );
      await raceSignal(this.#pool.bind(exchange, routingKey, start), signal);
    } catch (error) {
      if (start !== undefined) void this.#pool.unbind(exchange, routingKey, start);
      throw error;
    }
  }

  async unbind({ exchange, routingKey }: Key, signal: AbortSignal): Promise<void> {
    // The key is unbound here at once; a consumer the server could not be asked to delete
    // is deleted after the reconnect (or by the server, idle, after 30 s): no need to fail.
    await raceSignal(this.#pool.unbind(exchange, routingKey), signal).catch(() => {});
  }

  resources(): string[] {
    return this.#pool.resources();
  }

  async release(signal: AbortSignal): Promise<void> {
    this.#leaderWatch.unsubscribe();
    await raceSignal(this.#pool.close(), signal).catch(() => {});
  }

  async #repairStream(error: unknown): Promise<void> {
    if (
      isStreamNotFound(error) ||
      (error instanceof Error && /no responders|not enabled/i.test(error.message))
    ) {
      await this.stream.ensure();
    }
  }
}
