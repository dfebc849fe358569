import type { AMQExchangeName } from '../exchanges';
import type { HandlerOptions } from '../options';
import type { AMQHandler } from '../types';

/** Where a frame published at broker level goes: an exchange of a prefix, and a routing key. */
export interface BrokerTarget {
  readonly exchangePrefix: string;
  readonly exchange: AMQExchangeName;
  readonly routingKey: string;
}

/** One hostile frame of an adapter's own making: forged or absurd adapter metadata. */
export interface HostileFrame {
  /** What is wrong with it, shown in the test name: `a chunk header announcing 10^11 chunks`. */
  readonly name: string;
  /**
   * Publishes it at broker level, bypassing the adapter, with `secret`
   * somewhere in it (body, header, field): no log record may quote it.
   */
  publish(target: BrokerTarget, secret: string): Promise<void>;
}

/** What an adapter can do beyond the contract every adapter meets; the suite skips, visibly, what it lacks. */
export interface AdapterCapabilities {
  /**
   * Drops the handler's connection from the broker's side, as a network
   * failure would (the handler must reconnect and restore its bindings).
   */
  dropConnection?: (handler: AMQHandler) => Promise<void>;
  /** Messages sent while the handler is disconnected reach it after it reconnects. */
  deliversAcrossReconnect?: boolean;
  /**
   * What the broker holds for this handler, read from the broker itself
   * wherever it can tell (its own listing of queues, bindings, consumers,
   * subscriptions, keys), one line each; bindings read `binding <exchange>
   * <key>`. Connections do not count. The suite compares it with core's
   * bindings after faults, and wants it empty after the last unbind and after
   * `close()`.
   */
  brokerResources?: (handler: AMQHandler) => Promise<readonly string[]>;
  /**
   * Publishes a body at broker level, as any client of the broker would,
   * bypassing the adapter (no adapter metadata): garbage bodies go this way.
   */
  publishAtBroker?: (target: BrokerTarget, body: string | Uint8Array) => Promise<void>;
  /** The adapter's own hostile frames, each dropped with a warning and never in the way of the next message. */
  hostileFrames?: readonly HostileFrame[];
}

/** The adapter under test, as the contract suite sees it. */
export interface ContractTarget {
  /** Shown in test names: `memory`, `amqp`, `nats (durable)`. */
  readonly name: string;
  /**
   * Makes a fresh, connected handler on the broker under test. The suite
   * passes a random `exchangePrefix` per test and closes every handler it
   * made; the fault cases pass `url`, the broker's URL with a fault proxy's
   * host and port.
   */
  createHandler(
    options: HandlerOptions & { exchangePrefix: string; url?: string },
  ): Promise<AMQHandler>;
  /**
   * The broker URL the handlers connect to. With it, the fault cases put a
   * TCP proxy (`FaultProxy`) between handlers and broker, and cut, refuse or
   * freeze their connections; without it they skip, visibly.
   */
  readonly url?: string;
  readonly capabilities?: AdapterCapabilities;
  /**
   * Removes what the suite's handlers left on the broker under these exchange
   * prefixes (exchanges that outlive their handlers, streams), after the suite.
   */
  cleanup?(exchangePrefixes: readonly string[]): Promise<void>;
  /**
   * Why the suite cannot run here (the broker does not answer), or `null`.
   * A reason skips the suite with a visible line, or fails it when
   * `TEAL_REQUIRE_BROKERS=1`.
   */
  readonly unavailable?: string | null;
}
