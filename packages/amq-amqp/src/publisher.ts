import {
  type AMQExchangeName,
  AMQSendError,
  AMQUnconfirmedSendError,
  messageOf,
} from '@teal/amq-core/adapter';
import type { Message } from 'amqplib';
import type { AmqpConnection } from './connection';
import { SignalWatch } from './deadlines';
import { Lanes, laneOf, type Outgoing } from './publisher-lanes';

/** How long a message RabbitMQ returned as unroutable waits before it is published again. */
const RETRY_DELAY_MS = 100;
/** A retry is only worth it if its confirm can come back this long before the deadline. */
const RETRY_MARGIN_MS = 250;

/**
 * Publishes on the current connection's confirm channel, pipelined: each
 * publish is written at once and settles on the broker's ack or nack.
 * Publishes wait, in order, while there is no connection (an outage) or while the channel's
 * buffer is full (until `drain`). A publish whose deadline fires while it
 * waits is dropped at once, body and all, and never written; one written and
 * still unconfirmed at its deadline is reported to `onOverdue`. A written
 * message whose connection dies before its confirm rejects with an
 * `AMQUnconfirmedSendError`: RabbitMQ may have routed it.
 *
 * For a grace period after a reconnection, messages go out `mandatory`: one
 * that RabbitMQ returns (no queue bound its key, as when receivers have not
 * come back yet after a broker restart) is published again until it is
 * routed, the grace ends, or its deadline is near — then it resolves as
 * accepted, as an unroutable message always does.
 */
export class Publisher {
  readonly #sendTimeoutMs: number;
  /** Called when a written message reaches its deadline unconfirmed: the link may be stalled. */
  readonly #onOverdue: (connection: AmqpConnection) => void;
  #connection: AmqpConnection | null = null;
  #isWritable = false;
  /** Insertion-ordered, and an abandoned message leaves it at once. */
  readonly #waiting = new Set<Outgoing>();
  readonly #lanes: Lanes;
  /** Written messages awaiting their confirm, watched for one whose deadline fires. */
  readonly #inFlight = new SignalWatch<Outgoing>((outgoing) => this.#overdue(outgoing));
  /** `mandatory` messages written and not yet confirmed, by message id. */
  readonly #mandatory = new Map<string, Outgoing>();
  #graceUntil = 0;
  #seq = 0;

  constructor(sendTimeoutMs: number, onOverdue: (connection: AmqpConnection) => void) {
    this.#sendTimeoutMs = sendTimeoutMs;
    this.#onOverdue = onOverdue;
    this.#lanes = new Lanes(RETRY_DELAY_MS, () => this.#flush());
  }

  publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
    headers: Readonly<Record<string, string>> | undefined,
  ): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const outgoing: Outgoing = {
        seq: this.#seq++,
        exchange,
        routingKey,
        body: toBuffer(body),
        headers,
        signal,
        deadlineAt: Date.now() + this.#sendTimeoutMs,
        state: 'waiting',
        connection: null,
        messageId: undefined,
        wasReturned: false,
        isListening: false,
        resolve,
        reject,
        onAbort: null,
      };
      if (this.#lanes.size > 0 && this.#lanes.has(laneOf(outgoing))) {
        this.#hold(outgoing);
      } else if (this.#isWritable && this.#waiting.size === 0) {
        this.#write(outgoing);
      } else {
        // Waiting, it must leave at once when its deadline fires, body and all.
        this.#listen(outgoing);
        this.#waiting.add(outgoing);
      }
    });
  }

  /** Publishes go to this connection from now on; what waited is written first, in order. */
  attach(connection: AmqpConnection): void {
    this.#connection = connection;
    this.#isWritable = true;
    this.#flush();
  }

  /** The connection is gone: publishes wait for the next one. */
  detach(): void {
    this.#connection = null;
    this.#isWritable = false;
  }

  /** Starts a grace period: unroutable messages are published again until it ends. */
  startGrace(ms: number): void {
    this.#graceUntil = ms > 0 ? Date.now() + ms : 0;
  }

  /** The channel's buffer emptied after a write returned `false`. */
  drained(connection: AmqpConnection): void {
    if (connection !== this.#connection) return;
    this.#isWritable = true;
    this.#flush();
  }

  /** RabbitMQ returned a `mandatory` message: its ack follows, and decides what to do. */
  returned(message: Message): void {
    const id: unknown = message.properties.messageId;
    const outgoing = typeof id === 'string' ? this.#mandatory.get(id) : undefined;
    if (outgoing === undefined || outgoing.state !== 'written') return;
    outgoing.wasReturned = true;
    // The broker sends the body back: it is what a retry publishes.
    outgoing.body = message.content;
  }

  /** Rejects every publish that waits (the handler is closing). */
  failAll(error: Error): void {
    this.detach();
    this.#lanes.clear();
    for (const outgoing of [...this.#waiting, ...this.#lanes.takeAll()]) {
      this.#settle(outgoing, error);
    }
    this.#waiting.clear();
  }

  #flush(): void {
    if (!this.#isWritable) {
      this.#lanes.later();
      return;
    }
    // Held messages first: they were called before anything of their key that waits.
    for (const outgoing of this.#lanes.takeAll()) {
      if (!this.#isWritable) {
        this.#hold(outgoing);
        continue;
      }
      if (outgoing.wasReturned && !this.#mayRetry(outgoing)) {
        // Accepted and unroutable, as any message nobody bound.
        this.#settle(outgoing, null);
      } else {
        this.#write(outgoing);
      }
    }
    for (const outgoing of this.#waiting) {
      if (!this.#isWritable) break;
      this.#waiting.delete(outgoing);
      this.#write(outgoing);
    }
  }

  #write(outgoing: Outgoing): void {
    const connection = this.#connection!;
    const body = outgoing.body;
    if (outgoing.signal.aborted || body === null) {
      this.#abandon(outgoing);
      return;
    }
    // Outside a grace (nearly always), no clock read.
    const mandatory = this.#graceUntil !== 0 && Date.now() < this.#graceUntil;
    outgoing.messageId = mandatory ? `teal.${outgoing.seq}` : undefined;
    outgoing.wasReturned = false;
    unlisten(outgoing);
    outgoing.state = 'written';
    outgoing.connection = connection;
    // What is written is the channel's now; only a return brings the body back.
    outgoing.body = null;
    if (outgoing.messageId !== undefined) this.#mandatory.set(outgoing.messageId, outgoing);
    let isWritable: boolean;
    try {
      isWritable = connection.publish(
        outgoing.exchange,
        outgoing.routingKey,
        body,
        outgoing.messageId,
        outgoing.headers,
        (error) => this.#confirmed(outgoing, error),
      );
    } catch (error) {
      if (outgoing.messageId !== undefined) this.#mandatory.delete(outgoing.messageId);
      // Not written: the channel closed under us. Reject rather than guess.
      this.#settle(
        outgoing,
        new AMQSendError(
          `[@teal/amq-amqp] could not write the message on ${outgoing.exchange} (${messageOf(error)}); it was not sent`,
          { cause: error },
        ),
      );
      return;
    }
    this.#inFlight.add(outgoing);
    if (!isWritable) this.#isWritable = false;
  }

  #confirmed(outgoing: Outgoing, error: unknown): void {
    this.#inFlight.delete(outgoing);
    if (outgoing.messageId !== undefined) this.#mandatory.delete(outgoing.messageId);
    if (outgoing.state !== 'written') return;
    if (error !== null && error !== undefined) {
      this.#settle(outgoing, confirmError(outgoing.exchange, error));
    } else if (outgoing.wasReturned && this.#mayRetry(outgoing)) {
      this.#hold(outgoing);
    } else {
      this.#settle(outgoing, null);
    }
  }

  /** Whether a returned message may be published again: in the grace, well before its deadline. */
  #mayRetry(outgoing: Outgoing): boolean {
    const now = Date.now();
    return (
      !outgoing.signal.aborted &&
      now < this.#graceUntil &&
      now + RETRY_DELAY_MS + RETRY_MARGIN_MS < outgoing.deadlineAt
    );
  }

  /** Holds a message in its key's lane, where it must leave at once if its deadline fires. */
  #hold(outgoing: Outgoing): void {
    this.#listen(outgoing);
    this.#lanes.hold(outgoing);
  }

  /** Listens for the deadline of a message that waits: it must leave at once, body and all. */
  #listen(outgoing: Outgoing): void {
    if (outgoing.isListening) return;
    outgoing.isListening = true;
    outgoing.onAbort ??= () => this.#abandon(outgoing);
    outgoing.signal.addEventListener('abort', outgoing.onAbort, { once: true });
  }

  /** The deadline of a message that is not written fired: it goes, body and all. */
  #abandon(outgoing: Outgoing): void {
    const { state } = outgoing;
    if (state === 'waiting') this.#waiting.delete(outgoing);
    else if (state === 'held') this.#lanes.remove(outgoing);
    else return;
    this.#settle(outgoing, outgoing.signal.reason ?? new AMQSendError('[@teal/amq-amqp] aborted'));
  }

  /** A written message reached its deadline unconfirmed: its link may be stalled. */
  #overdue(outgoing: Outgoing): void {
    const connection = outgoing.state === 'written' ? outgoing.connection : null;
    if (connection !== null && connection === this.#connection && !connection.isEnded) {
      this.#onOverdue(connection);
    }
  }

  #settle(outgoing: Outgoing, error: unknown): void {
    if (outgoing.state === 'settled') return;
    outgoing.state = 'settled';
    outgoing.body = null;
    outgoing.headers = undefined;
    outgoing.connection = null;
    unlisten(outgoing);
    this.#inFlight.delete(outgoing);
    if (error === null) outgoing.resolve();
    else outgoing.reject(error);
  }
}

function unlisten(outgoing: Outgoing): void {
  if (!outgoing.isListening || outgoing.onAbort === null) return;
  outgoing.isListening = false;
  outgoing.signal.removeEventListener('abort', outgoing.onAbort);
}

/**
 * A nack: RabbitMQ refused the message. Anything else: the channel closed
 * between the write and the confirm, and RabbitMQ may have routed it.
 */
function confirmError(exchange: AMQExchangeName, error: unknown): AMQSendError {
  const reason = messageOf(error);
  if (reason === 'message nacked') {
    return new AMQSendError(`[@teal/amq-amqp] RabbitMQ refused (nack) the message on ${exchange}`, {
      cause: error,
    });
  }
  return new AMQUnconfirmedSendError(
    `[@teal/amq-amqp] the connection closed before RabbitMQ confirmed the message on ${exchange} (${reason}); it may have been routed: resend it only if its receivers tolerate a duplicate`,
    { cause: error },
  );
}

function toBuffer(body: string | Uint8Array): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
