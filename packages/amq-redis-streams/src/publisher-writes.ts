import { AMQUnconfirmedSendError, Fifo } from '@teal/amq-core/adapter';
import { PACKAGE } from './settings';

/** A write on the wire, until Redis answers it or the time from which Redis refuses it passes. */
export class PendingWrite {
  /** Local time from which Redis refuses the write (and any copy of it sent again). */
  readonly refusedFrom: number;
  /** The command connection's epoch when it was written. */
  readonly epoch: number;
  /** What it is, for messages: the exchange, or the wake stream. */
  readonly what: string;
  readonly promise: Promise<void>;
  isSettled = false;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor(refusedFrom: number, epoch: number, what: string) {
    this.refusedFrom = refusedFrom;
    this.epoch = epoch;
    this.what = what;
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/**
 * The writes on the wire that Redis has not answered. Once Redis refuses one
 * (its deadline less the reply margin), its fate is sealed — Redis has it or
 * never will — but unknown: it rejects then with `AMQUnconfirmedSendError`,
 * before core's deadline, a margin later, would reject it as never written.
 * One timer serves them all, due at the oldest one's time: they are kept in
 * write order, which is deadline order (a handler's sends share one timeout),
 * and Redis answers in that order, so the settled ones leave from the head.
 */
export class UnansweredWrites {
  readonly #writes = new Fifo<PendingWrite>();
  #watch: NodeJS.Timeout | null = null;

  add(write: PendingWrite): void {
    this.#writes.push(write);
    this.#watch ??= this.#watchUntil(write.refusedFrom);
  }

  /** Settles a write Redis answered, or failed: resolves it, or rejects it with `error`. */
  settle(write: PendingWrite, error?: unknown): void {
    if (write.isSettled) return;
    write.isSettled = true;
    if (error === undefined) write.resolve();
    else write.reject(error);
    while (this.#writes.peek()?.isSettled) this.#writes.shift();
  }

  /** Settles every write left: the connection is closed, and their replies will never come. */
  close(): void {
    if (this.#watch !== null) clearTimeout(this.#watch);
    this.#watch = null;
    for (const write of this.#writes.drain()) {
      this.#reject(write, 'the handler closed before Redis confirmed it');
    }
  }

  #watchUntil(at: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.#sweep(), Math.max(0, at - Date.now()));
    timer.unref();
    return timer;
  }

  #sweep(): void {
    this.#watch = null;
    const now = Date.now();
    let head = this.#writes.peek();
    while (head !== undefined && (head.isSettled || head.refusedFrom <= now)) {
      this.#writes.shift();
      this.#reject(
        head,
        'Redis did not confirm it before its deadline (the connection dropped or went silent before the reply)',
      );
      head = this.#writes.peek();
    }
    if (head !== undefined) this.#watch = this.#watchUntil(head.refusedFrom);
  }

  #reject(write: PendingWrite, why: string): void {
    if (write.isSettled) return;
    write.isSettled = true;
    write.reject(
      new AMQUnconfirmedSendError(
        `[${PACKAGE}] the message on ${write.what} was written, but ${why}: Redis may have it, so it may still be delivered, once; no copy lands after its deadline`,
      ),
    );
  }
}
