import type { TransportContext } from '@teal/amq-core/adapter';
import type { AmqpSession, DeliveryHandler } from './connection';
import type { AmqpSettings } from './settings';

/** The body size the first prefetch assumes, before any was seen: a large TeaL message. */
const ASSUMED_BODY_BYTES = 4_096;

/**
 * The consumer of the handler's queue, which holds RabbitMQ back while the
 * handler's backlog is full. The prefetch bounds the messages (it is at most
 * `maxBacklog`, and at most what half of `maxBacklogBytes` holds at the
 * average body size seen, or 4 KiB before any); when the backlog is full anyway — on bytes — the
 * consumer is cancelled, so the broker keeps the rest, and starts again once
 * the callback has drained the backlog to half. What was already on its way
 * still arrives, in order.
 */
export class Consumer {
  readonly #settings: AmqpSettings;
  readonly #context: TransportContext;
  readonly #onMessage: DeliveryHandler;
  /** Runs a queue-wide operation after the others (declare, delete, consume, cancel). */
  readonly #serialize: (operation: () => Promise<void>) => Promise<void>;
  #session: AmqpSession | null = null;
  #tag: string | null = null;
  /** The session whose consumer is cancelled until the backlog has room. */
  #pausedOn: AmqpSession | null = null;
  #lease: NodeJS.Timeout | null = null;
  #averageBytes = 0;

  constructor(
    settings: AmqpSettings,
    context: TransportContext,
    onMessage: DeliveryHandler,
    serialize: (operation: () => Promise<void>) => Promise<void>,
  ) {
    this.#settings = settings;
    this.#context = context;
    this.#onMessage = onMessage;
    this.#serialize = serialize;
  }

  get isConsuming(): boolean {
    return this.#tag !== null;
  }

  /** The session is gone, and its consumer with it. */
  detach(): void {
    this.#session = null;
    this.#tag = null;
    this.#unpause();
  }

  /** Consumes the queue on `session` (called in a serialized operation), unless the backlog is full. */
  async start(session: AmqpSession): Promise<void> {
    this.#session = session;
    if (this.#tag !== null || this.#pausedOn === session) return;
    if (this.#context.backlog.room === 0) {
      this.#pause(session);
      return;
    }
    const tag = await session.consume(this.#prefetch(), (message, ack) => {
      this.#averageBytes =
        this.#averageBytes === 0
          ? message.content.length
          : this.#averageBytes * 0.9 + message.content.length * 0.1;
      this.#onMessage(message, ack);
      if (this.#context.backlog.room === 0) this.#pause(session);
    });
    if (this.#session === session) this.#tag = tag;
  }

  /** Cancels the consumer (called in a serialized operation: the queue is about to go). */
  async stop(session: AmqpSession): Promise<void> {
    this.#unpause();
    const tag = this.#tag;
    this.#tag = null;
    if (tag !== null && this.#session === session) await session.cancel(tag);
  }

  /** The most unacknowledged deliveries RabbitMQ may send ahead of the callback. */
  #prefetch(): number {
    const backlog = this.#context.backlog;
    const bound = Math.min(this.#settings.prefetch, backlog.maxMessages);
    const averageBytes = this.#averageBytes === 0 ? ASSUMED_BODY_BYTES : this.#averageBytes;
    const fitting = Math.floor(backlog.maxBytes / 2 / averageBytes);
    return Math.max(1, Math.min(bound, fitting));
  }

  #pause(session: AmqpSession): void {
    if (this.#pausedOn === session) return;
    this.#pausedOn = session;
    const tag = this.#tag;
    this.#tag = null;
    if (tag !== null) {
      this.#serialize(() => session.cancel(tag)).catch(() => {
        // The session died: its consumer went with it.
      });
    }
    // Without a consumer the queue counts as unused: declaring it again keeps `x-expires` away.
    const renewEveryMs = Math.max(1_000, Math.floor(this.#settings.queueExpiresMs / 2));
    this.#lease = setInterval(() => {
      this.#serialize(() => session.assertQueue()).catch(() => {});
    }, renewEveryMs);
    this.#context.backlog.untilRoom().then(
      () => this.#resume(session),
      () => this.#unpause(),
    );
  }

  #resume(session: AmqpSession): void {
    if (this.#pausedOn !== session) return;
    this.#unpause();
    if (this.#session !== session || session.isEnded) return;
    this.#serialize(() => this.start(session)).catch(() => {
      // The session died: the next one consumes again.
    });
  }

  #unpause(): void {
    this.#pausedOn = null;
    if (this.#lease !== null) clearInterval(this.#lease);
    this.#lease = null;
  }
}
