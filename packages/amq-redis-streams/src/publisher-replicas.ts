import { AMQUnconfirmedSendError } from '@teal/amq-core/adapter';
import { Cluster, Command } from 'ioredis';
import type { CommandConnection } from './connection-command';
import type { PendingWrite } from './publisher-writes';
import { PACKAGE } from './settings';

/** What a `WAIT` answered: how many replicas have this connection's writes, and how many connections had closed then. */
interface Ack {
  readonly replicas: number;
  readonly losses: number;
}

/**
 * Confirms writes on a replica, for `durability: 'replicated'`: a send
 * resolves once `WAIT 1` says a replica has its entry, so that a failover to
 * that replica keeps it. One `WAIT` follows the writes of each tick, on the
 * connection (in a cluster, the node) that took them.
 *
 * `WAIT` counts the writes of the connection it is sent on, so its answer
 * speaks for a write only when no connection closed between the two: else
 * ioredis may have sent the write again on a new connection, where an earlier
 * `WAIT` means nothing. Then a new `WAIT`, sent after the write's reply, on
 * the connection that gave it, decides. A `WAIT` blocks its connection, so
 * one waits at most half of `livenessMs` (the connection would be taken for
 * dead), and is sent again until the send's deadline.
 */
export class ReplicaAcks {
  readonly #command: CommandConnection;
  readonly #maxWaitMs: number;
  #next: Promise<Ack | null> | null = null;

  constructor(command: CommandConnection, livenessMs: number) {
    this.#command = command;
    this.#maxWaitMs = Math.max(1, Math.floor(livenessMs / 2));
  }

  /**
   * The `WAIT` sent at the end of this tick, after the writes of the tick, to
   * the node of `write`'s key; `null` if it failed (it never rejects: no one
   * may be listening when it fails).
   */
  next(write: PendingWrite): Promise<Ack | null> {
    if (this.#next !== null) return this.#next;
    const timeoutMs = Math.max(1, Math.min(write.refusedFrom - Date.now(), this.#maxWaitMs));
    const wait = new Command('wait', ['1', String(timeoutMs)]);
    const { client } = this.#command;
    if (client instanceof Cluster) {
      // WAIT names no key: ioredis 6 would send it to any node. It routes by this (private) field.
      (wait as unknown as { slot: number | null }).slot = write.command.getSlot();
    }
    this.#next = wait.promise.then(
      (replicas: unknown) => ({ replicas: Number(replicas), losses: this.#command.losses }),
      () => null,
    );
    process.nextTick(() => {
      this.#next = null;
      client.sendCommand(wait);
    });
    return this.#next;
  }

  /**
   * Resolves once a replica has `write`, whose reply came when `repliedAt`
   * connections had closed; rejects with `AMQUnconfirmedSendError` when that
   * cannot be known before its deadline: the master has it, and it may be
   * delivered — or lost, if the master fails before a replica gets it.
   */
  async confirm(write: PendingWrite, first: Promise<Ack | null>, repliedAt: number): Promise<void> {
    const ack = await first;
    if (ack !== null && ack.losses === write.losses && ack.replicas > 0) return;
    while (this.#command.losses === repliedAt && Date.now() < write.refusedFrom) {
      const again = await this.next(write);
      if (again !== null && again.losses === repliedAt && again.replicas > 0) return;
    }
    throw new AMQUnconfirmedSendError(
      `[${PACKAGE}] the message on ${write.what} was written, but no replica confirmed it before its deadline (durability: 'replicated'): the master has it, so it may still be delivered, once, unless the master fails before a replica gets it`,
    );
  }
}
