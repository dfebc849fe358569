import type { AMQExchangeName } from './exchanges';
import type { Logger } from './logger';

/** A body received from the broker, handed to the handler by an adapter. */
export interface Delivery {
  readonly exchange: AMQExchangeName;
  /** The key the message was routed with. */
  readonly routingKey: string;
  /** The message as it travelled: JSON text or its UTF-8 bytes. */
  readonly body: string | Uint8Array;
  /**
   * The broker metadata it came with (message headers, a stream field, a
   * column), as the sender's `publish()` got it: trace context, never the body.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Called once the handler is done with the delivery: the callback has run
   * (or failed), or the body was dropped. Adapters acknowledge here.
   */
  readonly settled?: () => void;
}

/**
 * How much a handler holds for its callback: deliveries received but not yet
 * handed to the callback. A stuck callback must not make it grow without
 * bound, so a transport that can hold the broker back (stop reading a stream,
 * stop pulling a consumer) looks at it before taking more.
 */
export interface Backlog {
  /** The most deliveries the handler holds (`maxBacklog`). */
  readonly maxMessages: number;
  /** The most body bytes the handler holds (`maxBacklogBytes`). */
  readonly maxBytes: number;
  /** Deliveries held now. */
  readonly messages: number;
  /** Body bytes held now. */
  readonly bytes: number;
  /** How many more deliveries fit before the handler is full (0 when full). */
  readonly room: number;
  /**
   * Resolves once the handler has room again — its backlog drained to half its
   * bounds — at once when it is not full; rejects with `signal`'s reason.
   */
  untilRoom(signal?: AbortSignal): Promise<void>;
}

/** What the handler gives an adapter's transport. */
export interface TransportContext {
  /** The exchange prefix: `prefix + exchange` is the broker-side exchange name. */
  readonly exchangePrefix: string;
  readonly logger: Logger;
  /**
   * How long core gives `publish()`, `bind()` and `unbind()` (the handler's
   * `sendTimeoutMs`). Each call also gets the deadline itself as a signal;
   * this is for waits no call owns, like a first connection.
   */
  readonly sendTimeoutMs: number;
  /** Hands a received body to the handler, which decodes it and runs the callback in order. */
  deliver(delivery: Delivery): void;
  /** Every (exchange, key) bound right now: what a reconnect must restore, and nothing more. */
  bindings(): Iterable<readonly [AMQExchangeName, string]>;
  /** Reports a connection problem that nothing awaits (it goes to the handler's `onError`). */
  reportError(error: unknown): void;
  /**
   * Tells the handler its connection was lost (`false`, with the error) or is
   * back with every binding restored (`true`); the handler emits its
   * `disconnected`, `connected` and `reconnected` events from it. Repeats are
   * ignored.
   */
  connectionChanged(isConnected: boolean, error?: unknown): void;
  /** What the handler holds for its callback; see `Transport.appliesBackpressure`. */
  readonly backlog: Backlog;
}

/**
 * The broker-specific part of a handler. Core does the bookkeeping (double
 * binds, empty keys, decoding, ordering, backlog, close-once); a transport only
 * publishes, subscribes and unsubscribes keys, and keeps its connection up.
 *
 * Deadlines: `publish`, `bind`, `unbind` and `close` get an `AbortSignal`
 * that fires when the caller stops waiting: `context.sendTimeoutMs` after
 * the call (core calls `publish()` as `send()` starts), or earlier when the
 * caller's own signal fires. Core rejects the caller's promise at that
 * instant; the transport must then settle soon, and must never write a body
 * once the signal fired — a body already on the wire must be unable to land
 * after the timeout (a deadline the broker checks), because `send()` has
 * told its caller the message was not sent. The one honest exception: a body
 * written whose confirmation the connection lost rejects with an
 * `AMQUnconfirmedSendError` — the broker may have it.
 */
export interface Transport {
  /** The adapter's package name, used in error messages: `@teal/amq-amqp`. */
  readonly name: string;
  /** The longest routing key the broker takes, in UTF-8 bytes, if it has a limit. */
  readonly maxRoutingKeyBytes?: number;
  /** Whether the transport is connected right now. */
  readonly isConnected: boolean;
  /**
   * Whether the transport holds the broker back while `context.backlog` is
   * full, so that what a stuck callback cannot take stays on the broker. When
   * it does not, core drops the deliveries that overflow the backlog, counts
   * them and reports them to `onError` (an `AMQBacklogOverflowError`).
   */
  readonly appliesBackpressure?: boolean;
  /**
   * Publishes a body; resolves once the broker has accepted it. Nothing is
   * written after `signal` fired. `headers` (trace context, when someone
   * traces) travel as broker metadata beside the body, never in it, and come
   * back as the `headers` of the delivery. Sends that start within the same
   * millisecond without a caller's signal share one `signal` (it fires at most
   * a millisecond past the deadline): keep no per-send state on it, and know
   * that `markWritten(signal)` marks all of them written.
   */
  publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
    headers?: Readonly<Record<string, string>>,
  ): Promise<void>;
  /** Starts receiving messages sent with this key; resolves once they will be received. */
  bind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void>;
  /**
   * Stops receiving messages sent with this key. When it cannot reach the
   * broker, the key must still end up unbound there once the connection is back.
   */
  unbind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void>;
  /**
   * Releases every broker resource and connection. Called once; past
   * `signal`, it lets go of what it could not release politely.
   */
  close(signal: AbortSignal): Promise<void>;
  /**
   * What the transport believes it holds on the broker right now — queues,
   * bindings, consumers, subscriptions, keys — one line each, for tests that
   * check nothing of a handler outlives its last unbind or its close.
   */
  resources?(): readonly string[];
}

/** Makes the connected transport of a new handler. */
export type TransportFactory = (context: TransportContext) => Promise<Transport>;
