import { AMQError } from './errors';
import type { Logger } from './logger';
import type { AMQHandler, ErrorHook, MessageCallback } from './types';

/** Where a handler connects, as the Python original's `AMQSettings` has it. */
export interface AMQSettings {
  /** The broker URL; its scheme picks the adapter (`memory:`, `amqp:`, `redis:`, `nats:` …). */
  url: string;
  /** Prepended to every exchange name. Default `''`. */
  exchangePrefix?: string;
}

/** What an adapter's `connect()` takes: the settings and the options every handler has. */
export type ConnectOptions = AMQSettings & HandlerOptions;

/** What an adapter package exports, for `connect()` to load it by URL scheme or to be given it. */
export interface AdapterModule {
  connect(options: ConnectOptions): Promise<AMQHandler>;
}

/** Options every handler takes, whatever its adapter. */
export interface HandlerOptions {
  /** Prepended to every exchange name; isolates applications sharing a broker. Default `''`. */
  exchangePrefix?: string;
  /** Where the handler logs. Default: warnings and errors as JSON on stderr. */
  logger?: Logger;
  /** How many callbacks may run at once. Default 1: each is awaited before the next. */
  concurrency?: number;
  /**
   * How long `send()`, a bind or an unbind waits for the broker, outages
   * included, before it rejects; `close()` waits as long before it lets go of
   * what it could not release politely. Default 10 s.
   */
  sendTimeoutMs?: number;
  /**
   * The most deliveries the handler holds for a callback that does not keep
   * up. Beyond it, an adapter that can hold the broker back stops taking
   * messages (they wait on the broker); one that cannot (core NATS, memory)
   * drops them, counts them and reports them to `onError`. Default 1,000.
   */
  maxBacklog?: number;
  /** The same bound in body bytes. Default 64 MiB. */
  maxBacklogBytes?: number;
  /** The initial callback. */
  callback?: MessageCallback | null;
  /** The initial error hook. */
  onError?: ErrorHook;
}

export const DEFAULT_SEND_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BACKLOG = 1_000;
export const DEFAULT_MAX_BACKLOG_BYTES = 64 * 1024 * 1024;
export const DEFAULT_HIGH_WATER_MARK = 100;

/** A number option that must be positive, with an error that names it. */
export function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new AMQError(`[@teal/amq-core] ${name} must be a positive number, got ${value}`);
  }
  return value;
}
