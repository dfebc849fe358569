import { type AMQExchangeName, AMQUnconfirmedSendError } from '@teal/amq-core/adapter';
import type { NatsLink } from './connection';
import type { Part } from './publisher-chunks';

/**
 * Core NATS publishing. The parts are written, then a flush (PING/PONG) that
 * the server answers only after it processed them confirms them; flushes are
 * coalesced, so concurrent sends are pipelined. A message is never written
 * twice (core NATS delivers at most once), so a send rejects in one of two
 * ways: never written to a live socket (it is not delivered), or written and
 * unconfirmed when its connection dropped or its deadline neared — an
 * `AMQUnconfirmedSendError`, because the server may have it.
 */
export class CorePublisher {
  readonly #link: NatsLink;
  readonly #watch: SendWatch;

  constructor(link: NatsLink, watch: SendWatch) {
    this.#link = link;
    this.#watch = watch;
  }

  async publish(
    exchange: AMQExchangeName,
    subject: string,
    parts: readonly Part[],
    signal: AbortSignal,
  ): Promise<void> {
    const link = this.#link;
    const lateAt = this.#watch.lateAtFromNow();
    for (;;) {
      await link.waitConnected(signal);
      signal.throwIfAborted();
      const epoch = link.disconnects;
      const confirmed = link.write(() => {
        for (const part of parts) {
          link.nc.publish(subject, part.data, part.headers ? { headers: part.headers } : undefined);
        }
      });
      if (confirmed !== undefined) return this.#confirm(exchange, epoch, confirmed, signal, lateAt);
      // The socket was dead before it took a byte: the message goes once the client reconnected.
      await link.untilDropped(epoch, signal);
    }
  }

  #confirm(
    exchange: AMQExchangeName,
    epoch: number,
    confirmed: Promise<number>,
    signal: AbortSignal,
    lateAt: number,
  ): Promise<void> {
    const unconfirmed = (why: string, cause?: unknown) =>
      new AMQUnconfirmedSendError(
        `[@teal/amq-nats] ${why} before the server confirmed the message on ${exchange}: it was not sent again, and may or may not have been delivered (core NATS delivers at most once; use mode=jetstream for confirmed sends)`,
        { cause },
      );
    return new Promise<void>((resolve, reject) => {
      const watched = this.#watch.add(signal, lateAt, (reason) => {
        this.#watch.remove(watched);
        // A reset, so that nothing of it still queued on a silent connection lands later.
        this.#link.abandon(epoch, 'the server did not confirm a publish in time');
        reject(reason ?? unconfirmed(`the connection to ${this.#link.server} stopped answering`));
      });
      confirmed.then(
        (confirmedOn) => {
          if (!this.#watch.remove(watched)) return;
          // A flush that went out on a later connection says nothing of this one's bytes.
          if (confirmedOn === epoch) resolve();
          else reject(unconfirmed(`the connection to ${this.#link.server} dropped`));
        },
        (error: unknown) => {
          if (!this.#watch.remove(watched)) return;
          reject(unconfirmed(`the connection to ${this.#link.server} dropped`, error));
        },
      );
    });
  }
}

/** A send the watch keeps an eye on. */
export interface Watched {
  readonly signal: AbortSignal;
  /** When it must settle to beat core's deadline (`performance.now()` time). */
  readonly lateAt: number;
  readonly since: number;
  /** Called with the signal's reason once it fired, or once with `undefined` at `lateAt`. */
  readonly expire: (reason: unknown) => void;
  isLate: boolean;
  onAbort: (() => void) | undefined;
}

/**
 * Watches the sends that wait for the server, with one timer rather than a
 * listener each (an 'abort' listener costs Node about 7 µs, more than a
 * publish): a send whose signal fired is expired at the next tick, and one
 * still waiting a tick later gets an 'abort' listener, so that an abort acts
 * at once from then on. A send written and still unconfirmed shortly before
 * core's deadline is expired too: it must reject as unconfirmed before core
 * rejects it as never delivered.
 */
export class SendWatch {
  readonly #sendTimeoutMs: number;
  readonly #marginMs: number;
  readonly #tickMs: number;
  readonly #watched = new Set<Watched>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(sendTimeoutMs: number) {
    this.#sendTimeoutMs = sendTimeoutMs;
    this.#marginMs = Math.min(250, sendTimeoutMs / 5);
    this.#tickMs = Math.max(5, Math.min(100, this.#marginMs / 2));
  }

  /** The `lateAt` of a send called now: core's deadline (`sendTimeoutMs` from the call) less a margin. */
  lateAtFromNow(): number {
    return performance.now() + this.#sendTimeoutMs - this.#marginMs;
  }

  add(signal: AbortSignal, lateAt: number, expire: (reason: unknown) => void): Watched {
    const watched: Watched = {
      signal,
      lateAt,
      since: performance.now(),
      expire,
      isLate: false,
      onAbort: undefined,
    };
    this.#watched.add(watched);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), this.#tickMs);
      this.#timer.unref();
    }
    return watched;
  }

  /** Stops watching; `false` if it was not watched any more. */
  remove(watched: Watched): boolean {
    if (!this.#watched.delete(watched)) return false;
    if (watched.onAbort !== undefined) watched.signal.removeEventListener('abort', watched.onAbort);
    return true;
  }

  #tick(): void {
    if (this.#watched.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = performance.now();
    for (const watched of [...this.#watched]) {
      if (watched.signal.aborted) {
        watched.expire(watched.signal.reason);
        this.remove(watched);
        continue;
      }
      if (!watched.isLate && now >= watched.lateAt) {
        watched.isLate = true;
        watched.expire(undefined);
        if (!this.#watched.has(watched)) continue;
      }
      if (watched.onAbort === undefined && now - watched.since >= this.#tickMs) {
        const onAbort = () => {
          if (this.#watched.has(watched)) watched.expire(watched.signal.reason);
          this.remove(watched);
        };
        watched.onAbort = onAbort;
        watched.signal.addEventListener('abort', onAbort, { once: true });
      }
    }
  }
}
