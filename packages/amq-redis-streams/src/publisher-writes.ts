import { AMQUnconfirmedSendError, Fifo } from '@teal/amq-core/adapter';
import type { Command } from 'ioredis';
import { PACKAGE } from './settings';

/** Where the append script's deadline (ARGV[3]) sits among the arguments of its `EVAL`: after the key count and the keys. */
const deadlineArgument = (args: readonly unknown[]) => 2 + Number(args[1]) + 2;
/** Where the script, or its SHA1, sits. */
const SCRIPT_ARGUMENT = 0;

/**
 * A write on the wire, until Redis answers it or the time from which Redis
 * refuses it passes. The sends of one tick share one command (a run of the
 * batch script): each has its write, which learns its command, and the
 * batch's time of refusal, when the batch goes out.
 */
export class PendingWrite {
  /** The `EVAL` or `EVALSHA` itself: ioredis writes its arguments again when it sends it again. */
  command!: Command;
  /** The script the command runs, by which a copy sent again on a new connection names it. */
  script = '';
  /** The caller's signal; nothing listens to it. */
  readonly signal: AbortSignal;
  /** Local time from which Redis refuses the write (and any copy of it sent again). */
  refusedFrom: number;
  /** How many connections had closed when it was written. */
  losses = 0;
  /** What it is, for messages: the exchange, or the wake stream. */
  readonly what: string;
  readonly promise: Promise<void>;
  isSettled = false;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor(signal: AbortSignal, refusedFrom: number, what: string) {
    this.signal = signal;
    this.refusedFrom = refusedFrom;
    this.what = what;
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** The write goes out as `command`, which runs `script`, with `losses` connections closed so far. */
  sentAs(command: Command, script: string, losses: number): void {
    this.command = command;
    this.script = script;
    this.losses = losses;
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

  /**
   * Called when a connection is made, before ioredis sends again what the
   * last one left unanswered: the copy of a write whose caller gave up (its
   * signal fired) gets a deadline long past, so that Redis refuses it —
   * nothing may land once its signal fired (one send of a batch whose
   * signal fired is enough: the batch shares one deadline). Each copy goes as
   * `EVAL` of its script: the new connection's server may not have it cached.
   */
  disarmAbandoned(): void {
    const writes = this.#writes.drain();
    for (const write of writes) {
      if (write.isSettled) continue;
      write.command.name = 'eval';
      write.command.args[SCRIPT_ARGUMENT] = write.script;
      if (write.signal.aborted) write.command.args[deadlineArgument(write.command.args)] = '1';
      this.#writes.push(write);
    }
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
