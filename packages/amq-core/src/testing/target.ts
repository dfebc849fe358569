import type { HandlerOptions } from '../handler';
import type { AMQHandler } from '../types';

/** What an adapter can do beyond the contract every adapter meets; the suite skips, visibly, what it lacks. */
export interface AdapterCapabilities {
  /**
   * Drops the handler's connection from the broker's side, as a network
   * failure would (the handler must reconnect and restore its bindings).
   */
  dropConnection?: (handler: AMQHandler) => Promise<void>;
  /** Messages sent while the handler is disconnected reach it after it reconnects. */
  deliversAcrossReconnect?: boolean;
}

/** The adapter under test, as the contract suite sees it. */
export interface ContractTarget {
  /** Shown in test names: `memory`, `amqp`, `nats (durable)`. */
  readonly name: string;
  /**
   * Makes a fresh, connected handler on the broker under test. The suite
   * passes a random `exchangePrefix` per test and closes every handler it made.
   */
  createHandler(options: HandlerOptions & { exchangePrefix: string }): Promise<AMQHandler>;
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
