import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
  ReplayPolicy,
} from '@nats-io/jetstream';
import { type Msg, nanos, type Subscription } from '@nats-io/transport-node';
import {
  type AMQExchangeName,
  type Backlog,
  backoffDelay,
  type Logger,
  raceSignal,
} from '@teal/amq-core/adapter';
import { NatsConnectionError, type NatsLink } from './connection';
import { type Alarm, isStreamNotFound, sleep } from './connection-retry';
import { contain } from './consumer';
import type { PrefixStream } from './stream';

/**
 * How often the server says it is still there when idle; three missed and the
 * consumer is recreated (its server died while the client's did not).
 */
export const HEARTBEAT_MS = 2_000;
/** How long the server keeps a consumer nobody listens to (a crashed or cut-off handler's). */
export const INACTIVE_MS = 30_000;
/**
 * How long a consumer made again may take before another is made instead. The
 * server (2.9) places our consumers, R1 as ephemerals on a limits stream, on
 * one of the stream's servers drawn at random, a killed one included: after a
 * crash, each creation is lost there with a chance of one in three, and is
 * never answered, while one placed elsewhere is answered within 5–50 ms here.
 * So the first six creations unanswered in a row get a quarter of a second
 * each; then the wait doubles up to 3 s (the API timeout), so that a server
 * slow to answer anyone is heard in the end. The slow one's request is left to
 * end, and the consumer is deleted then (or by the server once inactive).
 */
const RECREATE_WAIT_MS = 250;
const RECREATE_WAIT_MAX_MS = 3_000;
const RECREATE_QUICK_TRIES = 6;

/** The wait for a creation after `unanswered` creations unanswered in a row. */
export function creationWaitMs(unanswered: number): number {
  const doublings = Math.max(0, unanswered - RECREATE_QUICK_TRIES + 1);
  return Math.min(RECREATE_WAIT_MS * 2 ** doublings, RECREATE_WAIT_MAX_MS);
}

export interface ConsumerHost {
  readonly link: NatsLink;
  readonly jsm: JetStreamManager;
  readonly stream: PrefixStream;
  readonly logger: Logger;
  /** What the handler holds for its callback: the consumer stops while it is full. */
  readonly backlog: Backlog;
  reportError(error: unknown): void;
  /** A message of the exchange, each stream sequence once and in order. */
  receive(exchange: AMQExchangeName, msg: Msg, sequence: number): void;
  /** The stream starts again at `sequence` (it lost messages): keys bound later start there too. */
  rewind(exchange: AMQExchangeName, sequence: number): void;
  /** A new consumer name, unique on the stream, that tells the handler's consumers apart. */
  nextConsumerName(): string;
  /** Rung when the stream elects a new leader: a recreation waiting on the old one tries again. */
  readonly newLeader: Alarm;
  /** Deletes a consumer on the server: now, or after the next reconnect if it cannot. */
  deleteConsumer(name: string): Promise<void>;
}

/**
 * One exchange's traffic from the prefix stream, as an ordered push consumer
 * the adapter manages itself (NATS 2.9 has no multi-filter consumers, so one
 * consumer per exchange serves every key bound on it). It remembers the last
 * stream sequence it handed over; whenever the consumer may have lost track —
 * a reconnect, a gap in delivery sequences, missed heartbeats, a server that
 * restarted without it — it is recreated at that sequence + 1, so nothing
 * within the stream's retention is lost and nothing is delivered twice.
 *
 * The same resumption holds a stuck callback's messages back on the server:
 * when the handler's backlog is full, the consumer is deleted (what the server
 * already pushed is dropped unread) and recreated after the last sequence
 * handed over once the backlog drained to half.
 */
export class ExchangeConsumer {
  readonly exchange: AMQExchangeName;
  readonly #host: ConsumerHost;
  readonly #filter: string;
  readonly #monitor: NodeJS.Timeout;
  #lastSequence: number;
  /** The stream's incarnation this consumer reads (see `PrefixStream.generation`). */
  #generation: number;
  #name = '';
  #subscription: Subscription | undefined;
  /** The server's answer to the last creation, settled either way. */
  #created: Promise<void> = Promise.resolve();
  #expectedDelivery = 1;
  #lastActivity = Date.now();
  #resetting: Promise<void> | null = null;
  #isStopped = false;
  #isPaused = false;

  constructor(
    host: ConsumerHost,
    exchange: AMQExchangeName,
    filter: string,
    startSequence: number,
  ) {
    this.#host = host;
    this.exchange = exchange;
    this.#filter = filter;
    this.#lastSequence = startSequence - 1;
    this.#generation = host.stream.generation;
    this.#monitor = setInterval(() => this.#checkHeartbeats(), HEARTBEAT_MS);
    this.#monitor.unref();
  }

  /** The server-side consumer's name, `''` while there is none (paused, stopped). */
  get name(): string {
    return this.#name;
  }

  /** Creates the server-side consumer; rejects if the server refuses it. */
  start(): Promise<void> {
    return this.#create();
  }

  /**
   * Recreates the consumer after the last sequence handed over, retrying until
   * it works or stops; resolves once it did (at once while paused or stopped).
   */
  reset(reason: string): Promise<void> {
    if (this.#isStopped || this.#isPaused) return Promise.resolve();
    if (this.#resetting !== null) return this.#resetting;
    this.#host.logger.debug('recreating a JetStream consumer', { exchange: this.exchange, reason });
    const resetting = this.#recreate().finally(() => {
      this.#resetting = null;
    });
    this.#resetting = resetting;
    return resetting;
  }

  /** Stops for good and deletes the server-side consumer (see `ConsumerHost.deleteConsumer`). */
  async stop(): Promise<void> {
    this.#isStopped = true;
    clearInterval(this.#monitor);
    await this.#drop();
  }

  /** Stops taking messages while the backlog is full; resumes where it stopped once it has room. */
  #pause(): void {
    this.#isPaused = true;
    this.#host.logger.debug('the backlog is full: pausing a JetStream consumer', {
      exchange: this.exchange,
    });
    void this.#drop();
    void this.#host.backlog.untilRoom().then(async () => {
      // A recreation under way when the pause came may have made a consumer the pause dropped.
      await this.#resetting;
      this.#isPaused = false;
      void this.reset('the backlog has room again');
    });
  }

  /** Forgets the subscription and deletes the server-side consumer, once its creation settled. */
  #drop(): Promise<void> {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    const name = this.#name;
    this.#name = '';
    if (name === '') return Promise.resolve();
    return this.#created.then(() => this.#host.deleteConsumer(name));
  }

  async #recreate(): Promise<void> {
    let unanswered = 0;
    for (let attempt = 0; !this.#isStopped && !this.#isPaused; attempt++) {
      // A stream between leaders answers nothing: its new leader's election ends the wait.
      const newLeader = this.#host.newLeader.next('the stream elected a new leader');
      let slow: AbortSignal | undefined;
      try {
        await this.#host.link.waitConnected();
        await Promise.race([this.#resync(), newLeader.rung]);
        if (this.#isStopped || this.#isPaused) return;
        slow = AbortSignal.timeout(creationWaitMs(unanswered));
        await Promise.race([raceSignal(this.#create(), slow), newLeader.rung]);
        return;
      } catch (error) {
        if (this.#isStopped) return;
        if (attempt === 3) {
          this.#host.reportError(
            new NatsConnectionError(
              `[@teal/amq-nats] cannot resume the ${this.exchange} consumer yet; retrying`,
              { cause: error },
            ),
          );
        }
        if (newLeader.hasRung()) {
          // Waits grown while the stream had no leader say nothing of the new one.
          unanswered = 0;
        } else if (slow?.aborted) {
          // Likely placed on a dead server: another at once, the wait having been the backoff.
          unanswered++;
          continue;
        }
        if (isStreamNotFound(error)) await this.#host.stream.ensure().catch(() => {});
        // At most a second, or until the stream has its new leader.
        await Promise.race([sleep(backoffDelay(attempt, 100, 1_000)), newLeader.rung]).catch(
          () => {},
        );
      } finally {
        newLeader.stop();
      }
    }
  }

  /** Notices what the stream lost while the consumer was away (see `PrefixStream.resumeAfter`). */
  async #resync(): Promise<void> {
    // Read before the request: the old consumer may deliver more while it is in flight.
    const resumed = await this.#host.stream.resumeAfter(
      this.#lastSequence,
      this.#generation,
      this.exchange,
    );
    this.#generation = resumed.generation;
    if (resumed.isRewound) {
      this.#lastSequence = resumed.lastSequence;
      this.#host.rewind(this.exchange, resumed.lastSequence + 1);
    }
  }

  async #create(): Promise<void> {
    void this.#drop();
    const name = this.#host.nextConsumerName();
    const inbox = this.#host.link.inbox();
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
    const created = this.#host.jsm.consumers.add(
      this.#host.stream.name,
      pushConsumerConfig(name, inbox, this.#filter, this.#lastSequence + 1),
    );
    this.#created = created.then(ignore, ignore);
    await created;
  }

  #onMessage(error: Error | null, msg: Msg): void {
    if (error !== null) {
      this.#host.reportError(
        new NatsConnectionError('[@teal/amq-nats] a JetStream consumer failed', { cause: error }),
      );
      void this.reset('subscription error');
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
      void this.reset(`delivery ${delivery} where ${this.#expectedDelivery} was due`);
      return;
    }
    this.#expectedDelivery++;
    if (stream <= this.#lastSequence) return;
    if (this.#host.backlog.room === 0) {
      // Not handed over: the consumer made after the pause starts with it.
      this.#pause();
      return;
    }
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
    if (lastDelivered >= this.#expectedDelivery)
      void this.reset('a heartbeat reported missed messages');
  }

  #checkHeartbeats(): void {
    // A paused consumer has no server-side consumer to hear from.
    if (this.#resetting !== null || this.#isPaused || !this.#host.link.isConnected) return;
    if (Date.now() - this.#lastActivity > 3 * HEARTBEAT_MS) void this.reset('heartbeats missed');
  }
}

function ignore(): void {}

/**
 * An exchange's consumer: pushed to `inbox` from stream sequence `start` on,
 * unacknowledged (the handler tracks sequences itself), with flow control and
 * idle heartbeats, in memory (it is recreated after a server restart anyway).
 */
export function pushConsumerConfig(
  name: string,
  inbox: string,
  filter: string,
  start: number,
): Partial<ConsumerConfig> {
  return {
    name,
    deliver_subject: inbox,
    filter_subject: filter,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: start,
    replay_policy: ReplayPolicy.Instant,
    flow_control: true,
    idle_heartbeat: nanos(HEARTBEAT_MS),
    inactive_threshold: nanos(INACTIVE_MS),
    mem_storage: true,
  };
}

/**
 * The stream and delivery sequences of a `$JS.ACK` reply subject: tokens 5
 * and 6 in the v1 layout (9 tokens), 7 and 8 in v2 (a domain and an account
 * before the stream). Found by their dots: no array of tokens per message.
 */
export function sequencesOf(reply: string): [number, number] {
  const dots: number[] = [];
  for (let at = reply.indexOf('.'); at >= 0 && dots.length < 10; at = reply.indexOf('.', at + 1)) {
    dots.push(at);
  }
  const first = dots.length === 8 ? 5 : 7;
  return [tokenNumber(reply, dots, first), tokenNumber(reply, dots, first + 1)];
}

function tokenNumber(subject: string, dots: readonly number[], token: number): number {
  return Number(subject.slice(dots[token - 1]! + 1, dots[token] ?? subject.length));
}
