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
   * Called once the handler is done with the delivery: the callback has run
   * (or failed), or the body was dropped. Adapters acknowledge here.
   */
  readonly settled?: () => void;
}

/** What the handler gives an adapter's transport. */
export interface TransportContext {
  /** The exchange prefix: `prefix + exchange` is the broker-side exchange name. */
  readonly exchangePrefix: string;
  readonly logger: Logger;
  /**
   * How long core lets `send()` wait for `publish()`. A publish still queued
   * (say, waiting out an outage) when this runs out must be dropped, never
   * written later: `send()` has already rejected. Binds may wait as long.
   */
  readonly sendTimeoutMs: number;
  /** Hands a received body to the handler, which decodes it and runs the callback in order. */
  deliver(delivery: Delivery): void;
  /** Every (exchange, key) bound right now: what a reconnect must restore. */
  bindings(): Iterable<readonly [AMQExchangeName, string]>;
  /** Reports a connection problem that nothing awaits (it goes to the handler's `onError`). */
  reportError(error: unknown): void;
}

/**
 * The broker-specific part of a handler. Core does the bookkeeping (double
 * binds, empty keys, decoding, ordering, close-once); a transport only
 * publishes, subscribes and unsubscribes keys, and keeps its connection up.
 */
export interface Transport {
  /** The adapter's package name, used in error messages: `@teal/amq-amqp`. */
  readonly name: string;
  /** The longest routing key the broker takes, in UTF-8 bytes, if it has a limit. */
  readonly maxRoutingKeyBytes?: number;
  /** Whether the transport is connected right now. */
  readonly isConnected: boolean;
  /** Publishes a body; resolves once the broker has accepted it. */
  publish(exchange: AMQExchangeName, routingKey: string, body: string | Uint8Array): Promise<void>;
  /** Starts receiving messages sent with this key; resolves once they will be received. */
  bind(exchange: AMQExchangeName, routingKey: string): Promise<void>;
  /** Stops receiving messages sent with this key. */
  unbind(exchange: AMQExchangeName, routingKey: string): Promise<void>;
  /** Releases every broker resource and connection. Called once. */
  close(): Promise<void>;
}

/** Makes the connected transport of a new handler. */
export type TransportFactory = (context: TransportContext) => Promise<Transport>;
