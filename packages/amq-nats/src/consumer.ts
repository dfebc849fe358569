import { AckPolicy, DeliverPolicy, type JetStreamManager, ReplayPolicy } from '@nats-io/jetstream';
import { createInbox, type Msg, nanos, nuid, type Subscription } from '@nats-io/transport-node';
import { AMQError, type AMQExchangeName, backoffDelay, type Logger } from '@teal/amq-core';
import { contain } from './contain';
import type { NatsLink } from './link';
import { isStreamNotFound, sleep } from './retry';
import type { PrefixStream } from './stream';

/** How often the server says it is still there when idle; three missed and the consumer is recreated. */
const HEARTBEAT_MS = 5_000;
/** How long the server keeps a consumer nobody listens to (a crashed handler's). */
const INACTIVE_MS = 30_000;

export interface ConsumerHost {
  readonly link: NatsLink;
  readonly jsm: JetStreamManager;
  readonly stream: PrefixStream;
  readonly logger: Logger;
  reportError(error: unknown): void;
  /** A message of the exchange, each stream sequence once and in order. */
  receive(exchange: AMQExchangeName, msg: Msg, sequence: number): void;
  /** The stream starts again at `sequence` (it lost messages): keys bound later start there too. */
  rewind(exchange: AMQExchangeName, sequence: number): void;
}

/**
 * One exchange's traffic from the prefix stream, as an ordered push consumer
 * the adapter manages itself (NATS 2.9 has no multi-filter consumers, so one
 * consumer per exchange serves every key bound on it). It remembers the last
 * stream sequence it handed over; whenever the consumer may have lost track —
 * a reconnect, a gap in delivery sequences, missed heartbeats, a server that
 * restarted without it — it is recreated at that sequence + 1, so nothing
 * within the stream's retention is lost and nothing is delivered twice.
 */
export class ExchangeConsumer {
  readonly exchange: AMQExchangeName;
  readonly #host: ConsumerHost;
  readonly #filter: string;
  readonly #namePrefix: string;
  readonly #monitor: NodeJS.Timeout;
  #lastSequence: number;
  /** The stream's incarnation this consumer reads (see `PrefixStream.generation`). */
  #generation: number;
  #serial = 0;
  #name = '';
  #subscription: Subscription | undefined;
  #expectedDelivery = 1;
  #lastActivity = Date.now();
  #resetting: Promise<void> | null = null;
  #isStopped = false;

  constructor(
    host: ConsumerHost,
    exchange: AMQExchangeName,
    filter: string,
    startSequence: number,
  ) {
    this.#host = host;
    this.exchange = exchange;
    this.#filter = filter;
    this.#namePrefix = `teal_${nuid.next()}`;
    this.#lastSequence = startSequence - 1;
    this.#generation = host.stream.generation;
    this.#monitor = setInterval(() => this.#checkHeartbeats(), HEARTBEAT_MS);
    this.#monitor.unref();
  }

  /** Creates the server-side consumer; rejects if the server refuses it. */
  start(): Promise<void> {
    return this.#create();
  }

  /** Recreates the consumer after the last sequence handed over, retrying until it works or stops. */
  reset(reason: string): void {
    if (this.#resetting !== null || this.#isStopped) return;
    this.#host.logger.debug('recreating a JetStream consumer', { exchange: this.exchange, reason });
    this.#resetting = this.#recreate().finally(() => {
      this.#resetting = null;
    });
  }

  async stop(): Promise<void> {
    this.#isStopped = true;
    clearInterval(this.#monitor);
    this.#subscription?.unsubscribe();
    if (this.#name !== '' && this.#host.link.isConnected) {
      await this.#host.jsm.consumers.delete(this.#host.stream.name, this.#name).catch(() => {});
    }
  }

  async #recreate(): Promise<void> {
    for (let attempt = 0; !this.#isStopped; attempt++) {
      try {
        await this.#host.link.waitConnected();
        await this.#resync();
        await this.#create();
        return;
      } catch (error) {
        if (this.#isStopped) return;
        if (isStreamNotFound(error)) await this.#host.stream.ensure().catch(() => {});
        if (attempt === 3) {
          this.#host.reportError(
            new AMQError(
              `[@teal/amq-nats] cannot resume the ${this.exchange} consumer yet; retrying`,
              { cause: error },
            ),
          );
        }
        await sleep(backoffDelay(attempt, 100, 5_000));
      }
    }
  }

  /**
   * Notices what the stream lost while the consumer was away: the whole stream
   * (deleted and created again), its last messages (a server that lost its
   * store's tail) or its oldest ones (retention).
   */
  async #resync(): Promise<void> {
    // Read before the request: the old consumer may deliver more while it is in flight.
    const before = this.#lastSequence;
    const { state } = await this.#host.stream.info();
    const fields = { stream: this.#host.stream.name, exchange: this.exchange };
    if (this.#host.stream.generation !== this.#generation) {
      this.#generation = this.#host.stream.generation;
      this.#host.logger.warn(
        'the JetStream stream was created again; delivering it from its start',
        fields,
      );
      this.#lastSequence = 0;
      this.#host.rewind(this.exchange, 1);
    } else if (state.last_seq < before) {
      this.#host.logger.warn(
        'the JetStream stream lost its last messages; resuming at its end',
        fields,
      );
      this.#lastSequence = state.last_seq;
      this.#host.rewind(this.exchange, state.last_seq + 1);
    } else if (state.first_seq > before + 1) {
      // Some of them may have been for other exchanges: the stream holds the whole prefix.
      this.#host.logger.warn(
        'the JetStream stream dropped messages (max age or bytes) while the consumer was away',
        {
          ...fields,
          droppedSequences: state.first_seq - 1 - before,
        },
      );
    }
  }

  async #create(): Promise<void> {
    const previous = this.#name;
    this.#subscription?.unsubscribe();
    if (previous !== '') {
      this.#host.jsm.consumers.delete(this.#host.stream.name, previous).catch(() => {});
    }
    const name = `${this.#namePrefix}_${++this.#serial}`;
    const inbox = createInbox();
    // Subscribed before the consumer exists: the server may push before it replies.
    const subscription = this.#host.link.nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (this.#subscription !== subscription) return;
        contain(this.#host.logger, { exchange: this.exchange }, () => this.#onMessage(error, msg));
      },
    });
    this.#subscription = subscription;
    this.#name = name;
    this.#expectedDelivery = 1;
    this.#lastActivity = Date.now();
    await this.#host.jsm.consumers.add(this.#host.stream.name, {
      name,
      deliver_subject: inbox,
      filter_subject: this.#filter,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#lastSequence + 1,
      replay_policy: ReplayPolicy.Instant,
      flow_control: true,
      idle_heartbeat: nanos(HEARTBEAT_MS),
      inactive_threshold: nanos(INACTIVE_MS),
      mem_storage: true,
    });
  }

  #onMessage(error: Error | null, msg: Msg): void {
    if (error !== null) {
      this.#host.reportError(
        new AMQError('[@teal/amq-nats] a JetStream consumer failed', { cause: error }),
      );
      this.reset('subscription error');
      return;
    }
    this.#lastActivity = Date.now();
    const reply = msg.reply ?? '';
    if (!reply.startsWith('$JS.ACK.')) {
      this.#onStatus(msg);
      return;
    }
    const [stream, delivery] = sequencesOf(reply);
    if (delivery !== this.#expectedDelivery) {
      this.reset(`delivery ${delivery} where ${this.#expectedDelivery} was due`);
      return;
    }
    this.#expectedDelivery++;
    if (stream <= this.#lastSequence) return;
    this.#lastSequence = stream;
    this.#host.receive(this.exchange, msg, stream);
  }

  /** Flow control and heartbeats (status 100): answer the first, check the second for gaps. */
  #onStatus(msg: Msg): void {
    if (msg.headers?.code !== 100) return;
    if (msg.reply) {
      msg.respond();
      return;
    }
    const stalled = msg.headers.get('Nats-Consumer-Stalled');
    if (stalled) this.#host.link.nc.publish(stalled);
    const lastDelivered = Number(msg.headers.get('Nats-Last-Consumer'));
    if (lastDelivered >= this.#expectedDelivery) this.reset('a heartbeat reported missed messages');
  }

  #checkHeartbeats(): void {
    if (this.#resetting !== null || !this.#host.link.isConnected) return;
    if (Date.now() - this.#lastActivity > 3 * HEARTBEAT_MS) this.reset('heartbeats missed');
  }
}

/** The stream and delivery sequences of a `$JS.ACK` reply subject (v1 and v2 layouts). */
function sequencesOf(reply: string): [number, number] {
  const tokens = reply.split('.');
  const at = tokens.length === 9 ? 5 : 7;
  return [Number(tokens[at]), Number(tokens[at + 1])];
}
