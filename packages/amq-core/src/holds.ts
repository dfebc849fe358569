import { Bindings, type Holder } from './bindings';
import { bindChannel, type HandlerEventBase, unbindChannel } from './diagnostics';
import { AMQBindError, AMQClosedError, AMQError, type AMQSendError } from './errors';
import type { AMQExchangeName } from './exchanges';
import { Deadline } from './timing';
import type { Transport } from './transport';

/** The one holder of every explicit bind of a key: bound twice is bound once. */
export const EXPLICIT: Holder = Object.freeze({ explicit: true });

/** What key holding needs from its handler. */
export interface HoldsHost {
  readonly transport: Transport | null;
  readonly isClosed: boolean;
  readonly sendTimeoutMs: number;
  readonly eventBase: HandlerEventBase;
  /** Hears of failures nobody awaits: an unbind in the background. */
  reportUnbindError(error: unknown, exchange: AMQExchangeName): void;
}

/**
 * A handler's keys as its callers hold them — explicit binds, waiters,
 * subscriptions — over the reference-counted broker bindings: each call has
 * the handler's deadline, and a holder whose deadline passes lets go, so the
 * broker never keeps a key its caller was told failed.
 */
export class KeyHolds {
  readonly bindings: Bindings;
  readonly #host: HoldsHost;

  constructor(host: HoldsHost) {
    this.#host = host;
    this.bindings = new Bindings(
      (operation, exchange, key, signal) => this.#onBroker(operation, exchange, key, signal),
      (error, exchange) => host.reportUnbindError(error, exchange),
    );
  }

  /** Holds the key for `holder`; resolves once the broker binding is in place. */
  hold(
    transport: Transport,
    exchange: AMQExchangeName,
    key: string,
    holder: Holder,
    method: string,
  ): Promise<void> {
    const deadline = this.#deadline(transport, `${method}() on ${exchange}`);
    return deadline
      .race(this.bindings.hold(exchange, key, holder, deadline.signal))
      .catch((error: unknown) => {
        this.letGo(exchange, key, holder);
        throw error;
      });
  }

  /** Undoes an explicit bind; resolves once the broker unbound the key, if nobody else holds it. */
  releaseExplicit(
    transport: Transport,
    exchange: AMQExchangeName,
    key: string,
    method: string,
  ): Promise<void> {
    const deadline = this.#deadline(transport, `${method}() on ${exchange}`);
    return deadline.race(this.bindings.release(exchange, key, EXPLICIT, deadline.signal));
  }

  /** Lets go of the key for `holder`, in the background; a failed unbind is reported. */
  letGo(exchange: AMQExchangeName, key: string, holder: Holder): void {
    if (this.#host.isClosed || !this.bindings.isHeldBy(exchange, key, holder)) return;
    this.bindings.release(exchange, key, holder).catch((error: unknown) => {
      if (!this.#host.isClosed) this.#host.reportUnbindError(error, exchange);
    });
  }

  /** What `Bindings` asks of the broker, with a deadline of its own when it has none. */
  async #onBroker(
    operation: 'bind' | 'unbind',
    exchange: AMQExchangeName,
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const transport = this.#host.transport;
    if (transport === null) throw new AMQClosedError('[@teal/amq-core] the handler was closed');
    const own =
      signal === undefined ? this.#deadline(transport, `${operation} on ${exchange}`) : undefined;
    const deadline = signal ?? own!.signal;
    const channel = operation === 'bind' ? bindChannel : unbindChannel;
    const run = () =>
      operation === 'bind'
        ? transport.bind(exchange, key, deadline)
        : transport.unbind(exchange, key, deadline);
    try {
      if (!channel.hasSubscribers) {
        await run();
      } else {
        const bindings = this.bindings.size;
        await channel.tracePromise(run, {
          ...this.#host.eventBase,
          exchange,
          routingKey: key,
          bindings,
        });
      }
    } catch (error) {
      const what = `${operation === 'bind' ? 'binding' : 'unbinding'} a key on ${exchange} failed`;
      throw brokerError(AMQBindError, transport, what, error);
    } finally {
      own?.clear();
    }
  }

  #deadline(transport: Transport, what: string): Deadline {
    const timeoutMs = this.#host.sendTimeoutMs;
    return new Deadline(
      timeoutMs,
      () =>
        new AMQBindError(
          `[${transport.name}] ${what}: no answer from the broker within ${timeoutMs} ms`,
        ),
    );
  }
}

/** An adapter's own errors pass as they are; anything else is wrapped, with its cause. */
export function brokerError(
  Kind: typeof AMQSendError | typeof AMQBindError,
  transport: Transport,
  what: string,
  error: unknown,
): AMQError {
  if (error instanceof AMQError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new Kind(`[${transport.name}] ${what}: ${reason}`, { cause: error });
}
