import {
  type AMQExchangeName,
  AMQSendError,
  AMQUnconfirmedSendError,
  messageOf,
  type TransportContext,
} from '@teal/amq-core/adapter';
import { Cluster, Command, ReplyError } from 'ioredis';
import type { CommandConnection } from './connection-command';
import { entryFields } from './entries';
import { addHeaders } from './entries-headers';
import type { StreamKeys } from './names';
import { ReplicaAcks } from './publisher-replicas';
import {
  APPEND_BATCH_SCRIPT,
  APPEND_BATCH_SCRIPT_SHA,
  APPEND_SCRIPT,
  APPEND_SCRIPT_SHA,
  type AppendKeys,
  MAX_BATCH_BYTES,
  MAX_BATCH_ENTRIES,
} from './publisher-scripts';
import { PendingWrite, UnansweredWrites } from './publisher-writes';
import { PACKAGE, type RedisStreamsSettings } from './settings';

/** How long before its caller's deadline a write stops being accepted: room for its reply to come back in time. */
const MAX_REPLY_MARGIN_MS = 250;

/** What a publisher writes with: the handler's command connection, and its settings and names. */
export interface PublisherParts {
  readonly command: CommandConnection;
  readonly context: TransportContext;
  readonly settings: RedisStreamsSettings;
  readonly keys: StreamKeys;
  /** Names the handler's writes, for the readers' duplicate detection. */
  readonly producer: string;
}

/**
 * The publishing side: the sends of one tick are one run of the batch
 * append script (at most 128 of them, or 64 KiB of bodies, a run; a larger
 * body goes alone, at once, by the append script), which Redis refuses once
 * the earliest of their deadlines passed, so a write sent again after a
 * reconnect never lands late; the wake stream's entries go one per run of the
 * append script. One command for many sends spares ioredis a command, a reply
 * and a promise per send, and Redis a script call per send.
 *
 * A send rejects with `AMQUnconfirmedSendError`
 * — the one rejection that may hide a delivery — when its write was on the
 * wire and Redis did not answer it: the connection dropped or went silent
 * before the reply, and the deadline passed or the copy sent again was
 * refused. Any other rejection means the entry was never written.
 *
 * A script goes by its SHA1 (`EVALSHA`: a few dozen bytes on the wire
 * instead of the scripts' 945 and 2,428 bytes) once an `EVAL` of it
 * succeeded on the current connection, which loads it into Redis's script
 * cache. Each new connection starts with `EVAL` again, and the writes ioredis
 * sends again on it are turned back into `EVAL` first: a restarted or promoted server may not have
 * the script. A `NOSCRIPT` (the cache flushed while connected) is never
 * retried — the retry would land after later writes — but rejected as not
 * written, and the next writes use `EVAL` again. On a Cluster, where a write
 * may be redirected to a node whose cache nobody filled, it is always `EVAL`.
 */
export class Publisher {
  readonly #command: CommandConnection;
  readonly #context: TransportContext;
  readonly #settings: RedisStreamsSettings;
  readonly #keys: StreamKeys;
  /** Random; with the sequence, readers drop a write Redis got twice (sent again after a reconnect). */
  readonly #producer: string;
  /** With `durability: 'replicated'`: what holds a send until a replica has it. */
  readonly #replicas: ReplicaAcks | null;
  readonly #unanswered = new UnansweredWrites();
  #sequence = 0;
  #hasWarnedOfHeaders = false;
  /** The scripts writes name by their SHA1: Redis has them, as far as this connection knows. */
  readonly #cachedScripts = new Set<string>();
  /** The sends of this tick, not yet written. */
  #batch: Batch = emptyBatch();
  #isFlushDue = false;
  readonly #mayCacheScript: boolean;

  constructor(parts: PublisherParts) {
    const { command, settings } = parts;
    this.#command = command;
    this.#context = parts.context;
    this.#settings = settings;
    this.#keys = parts.keys;
    this.#producer = parts.producer;
    const isReplicated = settings.durability === 'replicated';
    this.#replicas = isReplicated ? new ReplicaAcks(command, settings.livenessMs) : null;
    this.#mayCacheScript = !(command.client instanceof Cluster);
    command.onConnect(() => {
      this.#cachedScripts.clear();
      this.#unanswered.disarmAbandoned();
    });
  }

  /**
   * Appends a message to its key's bucket stream; resolves once Redis has it.
   * The sends of one tick go out together, in one run of the batch script.
   */
  publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
    headers?: Readonly<Record<string, string>>,
  ): Promise<void> {
    const payload =
      typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    // The gate issues writes in call order: sequence order is write order.
    const fields = entryFields(routingKey, this.#producer, ++this.#sequence, payload);
    if (headers !== undefined && addHeaders(fields, headers) > 0) this.#warnOfHeaders();
    const keys = this.#keys.appendKeys(exchange, routingKey);
    const refusedFrom = this.#refusedFrom();
    const bytes = typeof payload === 'string' ? payload.length : payload.byteLength;
    return this.#command.whenUsable(
      () => this.#enqueue(keys, fields, bytes, signal, refusedFrom, exchange),
      signal,
    );
  }

  /**
   * Appends an entry with `fields` (its `m` up to the previous id, then
   * field/value pairs, as `entryFields` makes them) to a stream (`keys`: the
   * stream, and its last-id key unless no reader checks its entries), bounded by `maxLength` and
   * `retentionMs`, once the connection is usable, in a run of its own; never
   * written once `signal` fired, and refused by Redis itself from a margin
   * before the deadline.
   */
  append(
    keys: AppendKeys,
    maxLength: number,
    retentionMs: number,
    fields: readonly (string | Buffer)[],
    signal: AbortSignal,
    what: string,
  ): Promise<void> {
    const refusedFrom = this.#refusedFrom();
    return this.#command.whenUsable(() => {
      const write = this.#admit(signal, refusedFrom, what);
      if (!(write instanceof PendingWrite)) return write;
      this.#sendAlone(write, keys, maxLength, retentionMs, fields, false);
      return write.promise;
    }, signal);
  }

  /** Settles what Redis never answered: called once the connection is closed. */
  close(): void {
    this.#unanswered.close();
  }

  /**
   * Core made the send's signal to fire sendTimeoutMs from now: Redis refuses
   * the write from a margin before, so that its reply has time to come back.
   */
  #refusedFrom(): number {
    const timeoutMs = this.#context.sendTimeoutMs;
    return Date.now() + timeoutMs - Math.min(MAX_REPLY_MARGIN_MS, timeoutMs / 10);
  }

  #serverDeadline(refusedFrom: number): string {
    return String(this.#command.clock.toServer(refusedFrom));
  }

  /** A write for a send still in time, or the rejection of one that is not written. */
  #admit(signal: AbortSignal, refusedFrom: number, what: string): PendingWrite | Promise<never> {
    // A command the gate released on the tick its signal fired must still not be written.
    if (signal.aborted) return Promise.reject(signal.reason);
    if (Date.now() >= refusedFrom) {
      return Promise.reject(
        new AMQSendError(
          `[${PACKAGE}] the deadline of the message on ${what} passed while it waited for Redis: it was not written`,
        ),
      );
    }
    return new PendingWrite(signal, refusedFrom, what);
  }

  /** Adds a send to this tick's batch, which goes out at the end of the tick or once full. */
  #enqueue(
    keys: AppendKeys,
    fields: (string | Buffer)[],
    bytes: number,
    signal: AbortSignal,
    refusedFrom: number,
    what: string,
  ): Promise<void> {
    const write = this.#admit(signal, refusedFrom, what);
    if (!(write instanceof PendingWrite)) return write;
    const batch = this.#batch;
    if (batch.sends.length >= MAX_BATCH_ENTRIES || batch.bytes + bytes > MAX_BATCH_BYTES) {
      this.#flush();
    }
    if (bytes > MAX_BATCH_BYTES) {
      // Alone, and at once: a large body's write overlaps with Redis appending the one before.
      const { maxLength, retentionMs } = this.#settings;
      this.#sendAlone(write, keys, maxLength, retentionMs, fields, this.#replicas !== null);
      return write.promise;
    }
    this.#batch.sends.push({ write, keys, fields });
    this.#batch.bytes += bytes;
    if (!this.#isFlushDue) {
      this.#isFlushDue = true;
      process.nextTick(this.#flushDue);
    }
    return write.promise;
  }

  readonly #flushDue = () => {
    this.#isFlushDue = false;
    this.#flush();
  };

  /**
   * Sends the batch as one run of the batch script, with the earliest deadline
   * of its sends; a batch of one send runs the single-entry script.
   */
  #flush(): void {
    const { sends } = this.#batch;
    this.#batch = emptyBatch();
    if (sends.length === 0) return;
    const { maxLength, retentionMs } = this.#settings;
    const isReplicated = this.#replicas !== null;
    if (sends.length === 1) {
      // Alone on its tick (a send awaited before the next): the single-entry script is lighter.
      const { write, keys, fields } = sends[0]!;
      this.#sendAlone(write, keys, maxLength, retentionMs, fields, isReplicated);
      return;
    }
    // In one pass: the writes, the earliest deadline, the script's KEYS, then
    // each entry's field count and fields.
    const writes: PendingWrite[] = [];
    const keys: string[] = [];
    const entries: (string | Buffer | number)[] = [];
    let refusedFrom = Number.POSITIVE_INFINITY;
    for (const send of sends) {
      writes.push(send.write);
      refusedFrom = Math.min(refusedFrom, send.write.refusedFrom);
      keys.push(...send.keys);
      entries.push(send.fields.length, ...send.fields);
    }
    // Every send of the batch was admitted on this tick: still in time, none given up.
    for (const write of writes) write.refusedFrom = refusedFrom;
    const deadline = this.#serverDeadline(refusedFrom);
    // biome-ignore format: the arguments read as the script's KEYS and ARGV
    this.#send(writes, APPEND_BATCH_SCRIPT, [keys.length, ...keys, maxLength, retentionMs, deadline, ...entries], isReplicated);
  }

  /** Writes one entry as a run of the append script of its own. */
  #sendAlone(
    write: PendingWrite,
    keys: AppendKeys,
    maxLength: number,
    retentionMs: number,
    fields: readonly (string | Buffer)[],
    isReplicated: boolean,
  ): void {
    const deadline = this.#serverDeadline(write.refusedFrom);
    // biome-ignore format: the arguments read as the script's KEYS and ARGV
    this.#send([write], APPEND_SCRIPT, [keys.length, ...keys, maxLength, retentionMs, deadline, ...fields], isReplicated);
  }

  /**
   * Writes a command that runs `script` on `args` (its KEYS and ARGV) for
   * `writes` — a command of our own, not client.eval(): its deadline can be
   * disarmed before a resend — by its SHA1 once Redis has it, and settles
   * each write with its part of the reply: a run of the batch script answers
   * each entry, with its id or the error that refused it.
   * `isReplicated`: resolved only once a replica has it too.
   */
  #send(
    writes: readonly PendingWrite[],
    script: string,
    args: (string | number | Buffer)[],
    isReplicated: boolean,
  ): void {
    const sha = script === APPEND_SCRIPT ? APPEND_SCRIPT_SHA : APPEND_BATCH_SCRIPT_SHA;
    const command = this.#cachedScripts.has(script)
      ? new Command('evalsha', [sha, ...args], { replyEncoding: 'utf8' })
      : new Command('eval', [script, ...args], { replyEncoding: 'utf8' });
    const losses = this.#command.losses;
    for (const write of writes) write.sentAs(command, script, losses);
    this.#command.coalesceWrites();
    this.#command.client.sendCommand(command);
    const replicas = isReplicated ? this.#replicas : null;
    // Asked for now: the WAIT of this tick goes out after this write.
    const replicated = replicas?.next(writes[0]!);
    command.promise.then(
      (reply: unknown) => {
        // Answered on this connection: its server has the script now.
        if (losses === this.#command.losses && this.#mayCacheScript)
          this.#cachedScripts.add(script);
        const each = script === APPEND_BATCH_SCRIPT && Array.isArray(reply) ? reply : [];
        for (const [index, write] of writes.entries()) {
          const outcome: unknown = each[index];
          if (outcome instanceof Error)
            this.#unanswered.settle(write, this.#failure(write, outcome));
          else if (!replicas || !replicated) this.#unanswered.settle(write);
          else {
            replicas.confirm(write, replicated, this.#command.losses).then(
              () => this.#unanswered.settle(write),
              (error: unknown) => this.#unanswered.settle(write, error),
            );
          }
        }
      },
      (error: unknown) => {
        for (const write of writes) this.#unanswered.settle(write, this.#failure(write, error));
      },
    );
    for (const write of writes) this.#unanswered.add(write);
  }

  /**
   * Redis's error reply to the write itself means it refused it and wrote
   * nothing. Anything else — a reply to a copy sent again after a reconnect,
   * ioredis giving up on the command — leaves the first copy's fate unknown.
   */
  #failure(write: PendingWrite, error: unknown): unknown {
    if (write.losses === this.#command.losses && error instanceof ReplyError) {
      if (!messageOf(error).startsWith('NOSCRIPT')) return error;
      this.#cachedScripts.delete(write.script);
      return new AMQSendError(
        `[${PACKAGE}] Redis no longer had the append script (its script cache was flushed): the message on ${write.what} was not written`,
        { cause: error },
      );
    }
    return new AMQUnconfirmedSendError(
      `[${PACKAGE}] the message on ${write.what} was written, but Redis did not confirm it (${messageOf(error)}): Redis may have it, so it may still be delivered, once; no copy lands after its deadline`,
      { cause: error },
    );
  }

  #warnOfHeaders(): void {
    if (this.#hasWarnedOfHeaders) return;
    this.#hasWarnedOfHeaders = true;
    // Nothing of the headers: a value may be anything a tracer put there.
    this.#context.logger.warn(
      'left out headers that readers would not take (more than 16, a name that is not letters, digits, _ . -, a value that is not printable ASCII, over 8 KiB in all); warned once per handler',
      { adapter: PACKAGE },
    );
  }
}

/** A send waiting for the end of its tick: its write, its stream's keys and its entry's fields. */
interface QueuedSend {
  readonly write: PendingWrite;
  readonly keys: AppendKeys;
  readonly fields: readonly (string | Buffer)[];
}

/** The sends of one tick, in send order, and the bytes of their bodies. */
interface Batch {
  readonly sends: QueuedSend[];
  bytes: number;
}

function emptyBatch(): Batch {
  return { sends: [], bytes: 0 };
}
